/*
 * The machine's network backends (-netdev), found by id when a NIC names netdev=. Kept apart
 * from machine.c, as drives are, so that only programs with NICs pull the network layer in.
 */
#include <glib.h>
#include <string.h>

#include "xendm/machine.h"
#include "xendm/net.h"

static void netdev_free_cb(gpointer nb)
{
    net_backend_free(nb);
}

void machine_add_netdev(struct machine *m, struct net_backend *nb)
{
    if (nb == NULL) {
        return;
    }
    /* machine_free() frees the array: from now on it must free the backends too. */
    g_ptr_array_set_free_func(m->netdevs, netdev_free_cb);
    g_ptr_array_add(m->netdevs, nb);
}

struct net_backend *machine_find_netdev(struct machine *m, const char *id)
{
    for (guint i = 0; i < m->netdevs->len; i++) {
        struct net_backend *nb = g_ptr_array_index(m->netdevs, i);
        if (strcmp(net_backend_id(nb), id) == 0) {
            return nb;
        }
    }
    return NULL;
}
