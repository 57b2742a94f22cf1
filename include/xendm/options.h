/*
 * The command line: the QEMU-compatible options libxl 4.17 emits for an HVM
 * guest's device model (reference §5.1), parsed into a configuration.
 *
 * Options libxl can emit that xendm does not implement yet are refused by
 * name ("option -X is not supported yet"); anything else unknown is refused as
 * "unknown option -X". Nothing is created here: system/main.c and
 * hw/xen/xenfv.c build the machine from the result.
 */
#ifndef XENDM_OPTIONS_H
#define XENDM_OPTIONS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "xendm/keyval.h"

#define XENDM_VERSION_STRING "xendm 0.1.0"
#define XENDM_MAX_SERIALS 4

enum xendm_action {
    XENDM_ACTION_RUN,
    XENDM_ACTION_HELP,        /* -h, --help */
    XENDM_ACTION_VERSION,     /* -version, --version */
    XENDM_ACTION_TRACE_HELP,  /* -trace help */
    XENDM_ACTION_DEVICE_HELP, /* -device help */
};

struct xendm_config {
    enum xendm_action action;
    bool have_domid;
    uint32_t domid;               /* -xen-domid */
    char *machine_type;           /* -machine TYPE: "xenfv" (default) or "pc" (with accel=xen) */
    bool suppress_vmdesc;         /* -machine ...,suppress-vmdesc=on (accepted, no effect) */
    uint64_t max_ram_below_4g;    /* -machine ...,max-ram-below-4g=SIZE; 0 = unset */
    uint64_t ram_size;            /* -m, bytes; 0 = unset */
    unsigned smp_cpus;            /* -smp N; 0 = unset */
    unsigned smp_maxcpus;         /* -smp ...,maxcpus=M; 0 = unset */
    unsigned poll_us;             /* -accel xen,poll-us=N: busy-polling bound; 0 = none */
    char *name;                   /* -name */
    bool nodefaults, no_user_config, no_shutdown, no_acpi;
    bool start_paused;            /* -S: the guest waits for QMP cont */
    char *keymap;                 /* -k */
    char *boot;                   /* -boot, verbatim */
    char *display;                /* -display none | sdl (-sdl gives sdl) */
    struct kv_list *display_opts; /* -display's other keys, or NULL */
    char *vnc;                    /* -vnc DISPLAY: "none", "127.0.0.1:0", "unix:PATH" */
    struct kv_list *vnc_opts;     /* -vnc's other keys (password=, to=, ...), or NULL */
    bool domid_restrict;          /* -xen-domid-restrict */
    char *chroot_dir;             /* -chroot DIR */
    char *runas;                  /* -runas USER | UID:GID */
    struct kv_list *sandbox;      /* -sandbox on[,obsolete=deny,...]; NULL = off */
    int incoming_fd;              /* -incoming fd:K; -1 = none */
    char *net;                    /* -net (only "none") */
    GPtrArray *serials;           /* char *: -serial specs in order, "none" left out */
    GPtrArray *chardevs;          /* struct kv_list *: -chardev, "backend" = the implied key */
    GPtrArray *monitors;          /* struct kv_list *: -mon, recorded (QMP is not served yet) */
    GPtrArray *devices;           /* struct kv_list *: -device, "driver" = the implied key */
    GPtrArray *drives;            /* struct kv_list *: -drive, in order */
    GPtrArray *netdevs;           /* struct kv_list *: -netdev, "type" = the implied key */
    GPtrArray *trace_patterns;    /* char *: -trace globs */
};

struct xendm_config *config_new(void);
void config_free(struct xendm_config *cfg);

/* Parses argv[1..argc-1]. On failure *err says why ("unknown option -X", ...). */
bool options_parse(struct xendm_config *cfg, int argc, char **argv, GError **err);

/* The vCPU count to assume when Xen cannot say: maxcpus, else cpus, else 1. */
unsigned config_max_vcpus(const struct xendm_config *cfg);

void options_print_help(FILE *out);

#endif
