/*
 * The toolstack's half of starting a device model: an xl-style domain config
 * and the command line libxl 4.17 builds from it (reference §5.1).
 */
#ifndef XENSIM_ARGV_H
#define XENSIM_ARGV_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

struct xsim_config {
    char *name;
    unsigned memory_mb;
    unsigned maxmem_mb;   /* 0: same as memory */
    unsigned vcpus;
    unsigned maxvcpus;    /* 0: same as vcpus */
    GPtrArray *serial;    /* char *: each becomes -serial */
    char *vga;            /* "cirrus" (libxl's default), "stdvga", "qxl", "none" */
    int videoram_mb;      /* -1: the default of the vga model */
    bool vnc;
    char *vnclisten;
    unsigned vncdisplay;
    bool vncunused;
    char *vncpasswd;
    bool sdl;
    char *keymap;
    char *boot;
    bool acpi;
    GPtrArray *disks;     /* char *: xl disk specs */
    GPtrArray *vifs;      /* char *: xl vif specs */
    GPtrArray *dm_args;
    GPtrArray *dm_args_hvm;
    char *on_poweroff, *on_reboot, *on_crash;
    char *device_model_override;
};

/* libxl's defaults: cirrus VGA, VNC on 127.0.0.1 with to=99, boot cda, one vCPU, 64 MiB... */
void xsim_config_init(struct xsim_config *cfg);
void xsim_config_clear(struct xsim_config *cfg);
bool xsim_config_parse_text(struct xsim_config *cfg, const char *text, GError **err);
bool xsim_config_parse_file(struct xsim_config *cfg, const char *path, GError **err);
/* Video RAM the device model takes out of maxmem (libxl's video_memkb / 1024). */
unsigned xsim_config_video_mb(const struct xsim_config *cfg);
unsigned xsim_config_max_vcpus(const struct xsim_config *cfg);
/* argv[0] = dm_path; QMP sockets at <qmp_dir>/qmp-libxl-<domid> and qmp-libxenstat-<domid>. */
GPtrArray *xsim_build_dm_argv(const struct xsim_config *cfg, const char *dm_path, uint32_t domid,
                              const char *qmp_dir);

#endif
