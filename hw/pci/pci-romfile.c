/*
 * Option ROMs from files, `-device DRIVER,romfile=NAME` as QEMU takes it. A device names its
 * default (the NICs iPXE's efi-*.rom, as QEMU's do); romfile= names another and an empty
 * romfile= asks for none. A bare name is looked for where Debian installs firmware: QEMU's data
 * directory (qemu-system-data links the iPXE images there), ipxe-qemu's and SeaBIOS's own.
 *
 * The file is read when the device is created, before xendm restricts itself. A default that
 * is not installed costs the guest its network boot, not its device: a warning, and no ROM. A
 * romfile= the user named and that cannot be read is an error, as in QEMU.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/pci.h"

#define PCI_ROMFILE_MAX (16u * 1024 * 1024) /* the largest option ROM read (iPXE's are ~200 KiB) */

static const char *const firmware_dirs[] = {
    "/usr/share/qemu",
    "/usr/lib/ipxe/qemu",
    "/usr/share/seabios",
};

char *pci_find_firmware(const char *name)
{
    if (strchr(name, '/') != NULL) {
        return g_file_test(name, G_FILE_TEST_IS_REGULAR) ? g_strdup(name) : NULL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(firmware_dirs); i++) {
        char *path = g_build_filename(firmware_dirs[i], name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            return path;
        }
        g_free(path);
    }
    return NULL;
}

bool pci_load_romfile(struct pci_device *d, struct kv_list *props, const char *default_name,
                      GError **err)
{
    const char *given = props != NULL ? kv_get(props, "romfile") : NULL;
    const char *name = given != NULL ? given : default_name;
    char *path = NULL, *data = NULL;
    gsize len = 0;
    bool ok = false;

    if (name == NULL || name[0] == '\0') {
        return true; /* romfile= : no ROM */
    }
    path = pci_find_firmware(name);
    if (path == NULL) {
        if (given == NULL) {
            log_warn("%s: option ROM %s is not installed: the guest cannot boot from this "
                     "device", pci_device_name(d), name);
            return true;
        }
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_NOENT, "romfile=%s: no such file", name);
        return false;
    }
    if (!g_file_get_contents(path, &data, &len, err)) {
        goto out;
    }
    if (len == 0 || len > PCI_ROMFILE_MAX) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "romfile=%s: %zu bytes is not an option ROM's size", path, (size_t)len);
        goto out;
    }
    if (pci_register_rom(d, data, len) < 0) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_FAILED, "romfile=%s: not accepted", path);
        goto out;
    }
    ok = true;
out:
    g_free(data);
    g_free(path);
    return ok;
}
