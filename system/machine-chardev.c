/*
 * The machine's chardevs. Kept apart from machine.c so that only programs
 * that handle chardevs (and so link the chardev layer) pull these in.
 */
#include <glib.h>

#include "xendm/machine.h"

static void chardev_free_cb(gpointer chr)
{
    chardev_free(chr);
}

void machine_add_chardev(struct machine *m, struct chardev *chr)
{
    if (chr == NULL) {
        return;
    }
    /* machine_free() frees the array: from now on it must free the chardevs too. */
    g_ptr_array_set_free_func(m->chardevs, chardev_free_cb);
    g_ptr_array_add(m->chardevs, chr);
}

struct chardev *machine_find_chardev(struct machine *m, const char *id)
{
    for (guint i = 0; i < m->chardevs->len; i++) {
        struct chardev *chr = g_ptr_array_index(m->chardevs, i);
        const char *chr_id = chardev_id(chr);
        if (chr_id != NULL && strcmp(chr_id, id) == 0) {
            return chr;
        }
    }
    return NULL;
}
