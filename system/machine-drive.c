/*
 * The machine's drives (-drive). Kept apart from machine.c so that only programs that handle
 * drives (and so link the block layer) pull these in.
 */
#include <glib.h>

#include "xendm/block.h"
#include "xendm/machine.h"

static void drive_free_cb(gpointer drive)
{
    drive_free(drive);
}

void machine_add_drive(struct machine *m, struct drive *drive)
{
    if (drive == NULL) {
        return;
    }
    /* machine_free() frees the array: from now on it must free the drives too. */
    g_ptr_array_set_free_func(m->drives, drive_free_cb);
    g_ptr_array_add(m->drives, drive);
}

struct drive *machine_find_drive(struct machine *m, const char *id)
{
    for (guint i = 0; i < m->drives->len; i++) {
        struct drive *drive = g_ptr_array_index(m->drives, i);
        if (drive->id != NULL && id != NULL && strcmp(drive->id, id) == 0) {
            return drive;
        }
    }
    return NULL;
}

struct drive *machine_drive_at(struct machine *m, enum drive_interface interface, int index)
{
    for (guint i = 0; i < m->drives->len; i++) {
        struct drive *drive = g_ptr_array_index(m->drives, i);
        if (drive->interface == interface && drive->index == index) {
            return drive;
        }
    }
    return NULL;
}
