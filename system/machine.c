/*
 * The machine: address spaces, devices, ISA interrupt lines, MSI, shutdown
 * requests and timers. Everything a device needs from the rest of xendm
 * goes through here; the accelerator plugs in through struct accel_ops.
 *
 * Chardev ownership lives in machine-chardev.c so that programs without the
 * chardev layer (the core unit tests) can link the machine.
 */
#include <glib.h>
#include <inttypes.h>
#include <time.h>

#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define MACHINE_ERROR (g_quark_from_static_string("xendm-machine"))

struct device_instance {
    const struct device_type *type;
    void *dev;
};

struct unplug_handler {
    unsigned kinds;
    void (*cb)(void *opaque, unsigned kind);
    void *opaque;
};

struct irq_line {
    struct machine *m;
    unsigned irq;
    bool level;
};

/* A section of core-kept state (machine_add_state). */
struct state_section {
    const struct vmstate_desc *desc;
    uint32_t instance_id;
    void *obj;
};

struct machine *machine_new(void)
{
    struct machine *m = g_new0(struct machine, 1);

    m->io = address_space_new(ADDRESS_SPACE_IO, "io");
    m->mmio = address_space_new(ADDRESS_SPACE_MMIO, "mmio");
    m->devices = g_ptr_array_new();
    m->core_state = g_ptr_array_new_with_free_func(g_free);
    m->chardevs = g_ptr_array_new();
    m->drives = g_ptr_array_new();
    m->netdevs = g_ptr_array_new();
    m->unplug_handlers = g_ptr_array_new_with_free_func(g_free);
    return m;
}

static void device_instance_destroy(struct device_instance *inst)
{
    if (inst->type->destroy != NULL) {
        inst->type->destroy(inst->dev);
    }
    g_free(inst);
}

void machine_free(struct machine *m)
{
    if (m == NULL) {
        return;
    }
    /* Newest first: a device may depend on one created before it. */
    for (guint i = m->devices->len; i > 0; i--) {
        device_instance_destroy(g_ptr_array_index(m->devices, i - 1));
    }
    g_ptr_array_free(m->devices, TRUE);
    /* After the devices: their destroy removes their core state and unplug handlers. */
    g_ptr_array_free(m->core_state, TRUE);
    g_ptr_array_free(m->unplug_handlers, TRUE);
    /* The free function, when chardevs exist, was installed by machine_add_chardev(). */
    g_ptr_array_free(m->chardevs, TRUE);
    /* After the devices, which detach from their drives when destroyed. */
    g_ptr_array_free(m->drives, TRUE);
    /* After the devices, which detach from their backends when destroyed. */
    g_ptr_array_free(m->netdevs, TRUE);
    address_space_free(m->io);
    address_space_free(m->mmio);
    g_free(m);
}

void machine_reset(struct machine *m)
{
    for (guint i = 0; i < m->devices->len; i++) {
        struct device_instance *inst = g_ptr_array_index(m->devices, i);
        if (inst->type->reset != NULL) {
            inst->type->reset(inst->dev);
        }
    }
    m->shutdown_requested = false;
}

/* ---- device types ---- */

/*
 * Each device file places a pointer to its type in this section; weak
 * references keep a program without devices linkable (both are NULL then).
 */
extern const struct device_type *const __start_xendm_device_types[] __attribute__((weak));
extern const struct device_type *const __stop_xendm_device_types[] __attribute__((weak));

static size_t device_type_count(void)
{
    if (__start_xendm_device_types == NULL || __stop_xendm_device_types == NULL) {
        return 0;
    }
    return (size_t)(__stop_xendm_device_types - __start_xendm_device_types);
}

const struct device_type *device_type_find(const char *name)
{
    size_t n = device_type_count();

    for (size_t i = 0; i < n; i++) {
        const struct device_type *type = __start_xendm_device_types[i];
        if (type != NULL && strcmp(type->name, name) == 0) {
            return type;
        }
    }
    return NULL;
}

void device_type_list(FILE *out)
{
    size_t n = device_type_count();

    for (size_t i = 0; i < n; i++) {
        const struct device_type *type = __start_xendm_device_types[i];
        if (type != NULL && type->user_creatable) {
            fprintf(out, "name \"%s\", desc \"%s\"\n", type->name,
                    type->description != NULL ? type->description : "");
        }
    }
}

void *machine_create_device(struct machine *m, const char *type_name, struct kv_list *props,
                            GError **err)
{
    const struct device_type *type = device_type_find(type_name);
    struct device_instance *inst;
    const char *unused;
    void *dev;

    if (type == NULL) {
        g_set_error(err, MACHINE_ERROR, 0, "unknown device type '%s'", type_name);
        return NULL;
    }
    /* The driver name and the id are the machine's business, not the device's. */
    (void)kv_get(props, "driver");
    (void)kv_get(props, "id");
    dev = type->create(m, props, err);
    if (dev == NULL) {
        if (err != NULL && *err == NULL) {
            g_set_error(err, MACHINE_ERROR, 0, "device '%s' could not be created", type_name);
        }
        return NULL;
    }
    inst = g_new0(struct device_instance, 1);
    inst->type = type;
    inst->dev = dev;
    unused = kv_first_unused(props);
    if (unused != NULL) {
        g_set_error(err, MACHINE_ERROR, 0, "Property '%s' not found for device '%s'", unused,
                    type_name);
        device_instance_destroy(inst);
        return NULL;
    }
    g_ptr_array_add(m->devices, inst);
    return dev;
}

void *machine_find_device(struct machine *m, const char *type_name)
{
    for (guint i = 0; i < m->devices->len; i++) {
        struct device_instance *inst = g_ptr_array_index(m->devices, i);
        if (strcmp(inst->type->name, type_name) == 0) {
            return inst->dev;
        }
    }
    return NULL;
}

/* ---- PV unplug ---- */

static const char *const unplug_kind_names[UNPLUG_KIND_COUNT] = {
    [UNPLUG_IDE_DISK] = "IDE/SCSI disks",
    [UNPLUG_IDE_DISK_AUX] = "IDE disks but the primary master",
    [UNPLUG_NIC] = "NICs",
    [UNPLUG_NVME] = "NVMe disks",
};

void machine_register_unplug(struct machine *m, unsigned kinds_bitmask,
                             void (*cb)(void *opaque, unsigned kind), void *opaque)
{
    struct unplug_handler *h = g_new0(struct unplug_handler, 1);

    h->kinds = kinds_bitmask & (UNPLUG_KIND_BIT(UNPLUG_KIND_COUNT) - 1);
    h->cb = cb;
    h->opaque = opaque;
    g_ptr_array_add(m->unplug_handlers, h);
}

void machine_unregister_unplug(struct machine *m, void *opaque)
{
    for (guint i = m->unplug_handlers->len; i > 0; i--) {
        struct unplug_handler *h = g_ptr_array_index(m->unplug_handlers, i - 1);
        if (h->opaque == opaque) {
            g_ptr_array_remove_index(m->unplug_handlers, i - 1);
        }
    }
}

static bool unplug_still_registered(struct machine *m, const struct unplug_handler *want)
{
    for (guint i = 0; i < m->unplug_handlers->len; i++) {
        const struct unplug_handler *h = g_ptr_array_index(m->unplug_handlers, i);
        if (h->cb == want->cb && h->opaque == want->opaque) {
            return true;
        }
    }
    return false;
}

/*
 * Calls the handlers of one kind. A handler may unregister itself or others (a disk
 * going away with its controller), so walk a copy and skip entries gone meanwhile.
 */
static unsigned unplug_one_kind(struct machine *m, unsigned kind)
{
    GPtrArray *snapshot = g_ptr_array_new_with_free_func(g_free);
    unsigned called = 0;

    for (guint i = 0; i < m->unplug_handlers->len; i++) {
        struct unplug_handler *h = g_ptr_array_index(m->unplug_handlers, i);
        if (h->kinds & UNPLUG_KIND_BIT(kind)) {
            g_ptr_array_add(snapshot, g_memdup2(h, sizeof(*h)));
        }
    }
    for (guint i = 0; i < snapshot->len; i++) {
        struct unplug_handler *h = g_ptr_array_index(snapshot, i);
        if (!unplug_still_registered(m, h)) {
            continue;
        }
        h->cb(h->opaque, kind);
        called++;
    }
    g_ptr_array_free(snapshot, TRUE);
    return called;
}

unsigned machine_unplug(struct machine *m, unsigned kind_bitmask)
{
    unsigned total = 0;

    m->unplugged.kinds |= kind_bitmask & (UNPLUG_KIND_BIT(UNPLUG_KIND_COUNT) - 1);

    for (unsigned kind = 0; kind < UNPLUG_KIND_COUNT; kind++) {
        if (kind_bitmask & UNPLUG_KIND_BIT(kind)) {
            unsigned n = unplug_one_kind(m, kind);
            log_guest_event("PV unplug of %s: %u device(s) unplugged", unplug_kind_names[kind], n);
            total += n;
        }
    }
    return total;
}

/* ---- interrupts ---- */

struct irq_line *machine_isa_irq(struct machine *m, unsigned irq)
{
    struct irq_line *line;

    if (irq >= MACHINE_ISA_IRQS) {
        return NULL;
    }
    line = g_new0(struct irq_line, 1);
    line->m = m;
    line->irq = irq;
    return line;
}

/*
 * ISA lines are wired-OR: the line is high while any source drives it. Only
 * transitions of the whole line go to the accelerator, as Xen wants level
 * changes, not every source's opinion.
 */
void irq_set_level(struct irq_line *line, bool level)
{
    struct machine *m;
    unsigned *count;

    if (line == NULL || line->level == level) {
        return;
    }
    m = line->m;
    count = &m->isa_irq_count[line->irq];
    line->level = level;
    if (level) {
        (*count)++;
    } else if (*count > 0) {
        (*count)--;
    }
    if ((level && *count == 1) || (!level && *count == 0)) {
        TRACE(machine_isa_irq, "irq=%u level=%d", line->irq, level);
        if (m->accel != NULL && m->accel->set_isa_irq != NULL) {
            m->accel->set_isa_irq(m->accel_opaque, line->irq, level);
        }
    }
}

bool irq_get_level(const struct irq_line *line)
{
    return line != NULL && line->level;
}

void irq_line_free(struct irq_line *line)
{
    if (line == NULL) {
        return;
    }
    irq_set_level(line, false);
    g_free(line);
}

void machine_set_pci_intx(struct machine *m, unsigned slot, unsigned pin, bool level)
{
    if (m->accel != NULL && m->accel->set_pci_intx != NULL) {
        m->accel->set_pci_intx(m->accel_opaque, slot, pin, level);
    }
}

void machine_set_pci_link_route(struct machine *m, unsigned link, unsigned isa_irq)
{
    if (m->accel != NULL && m->accel->set_pci_link_route != NULL) {
        m->accel->set_pci_link_route(m->accel_opaque, link, isa_irq);
    }
}

void machine_claim_pcidev(struct machine *m, uint32_t sbdf, bool add)
{
    if (m->accel != NULL && m->accel->claim_pcidev != NULL) {
        m->accel->claim_pcidev(m->accel_opaque, sbdf, add);
    }
}

bool machine_set_mem_type(struct machine *m, uint64_t first_gfn, uint32_t nr, bool read_only)
{
    if (m->accel == NULL || m->accel->set_mem_type == NULL) {
        return false;
    }
    return m->accel->set_mem_type(m->accel_opaque, first_gfn, nr, read_only);
}

void machine_inject_msi(struct machine *m, uint64_t addr, uint32_t data)
{
    TRACE(machine_msi, "addr=0x%" PRIx64 " data=0x%" PRIx32, addr, data);
    if (m->accel != NULL && m->accel->inject_msi != NULL) {
        m->accel->inject_msi(m->accel_opaque, addr, data);
    }
}

/* ---- life cycle ---- */

void machine_request_shutdown(struct machine *m, enum shutdown_reason reason)
{
    /*
     * A guest can pulse its reset line (port 0x92, i8042 0xFE) in a loop: only the first
     * request before a reset is worth a line; repeats are logged with a rate limit. Each is
     * still forwarded, since Xen keeps the first reason and ignores the rest.
     */
    if (!m->shutdown_requested) {
        log_info("shutdown requested (reason %d)", (int)reason);
    } else {
        log_guest_error("shutdown requested again (reason %d) while one is pending", (int)reason);
    }
    m->shutdown_requested = true;
    m->shutdown_reason = reason;
    if (m->accel != NULL && m->accel->request_shutdown != NULL) {
        m->accel->request_shutdown(m->accel_opaque, reason);
    }
    if (m->shutdown_observer != NULL) {
        m->shutdown_observer(m->shutdown_observer_opaque, reason);
    }
}

/* ---- ACPI S3 ---- */

static void set_sleep_state(struct machine *m, bool asleep)
{
    m->suspended = asleep;
    if (m->accel != NULL && m->accel->set_acpi_sleep_state != NULL) {
        m->accel->set_acpi_sleep_state(m->accel_opaque, asleep ? 3 : 0);
    }
    if (m->sleep_observer != NULL) {
        m->sleep_observer(m->sleep_observer_opaque, asleep);
    }
}

void machine_enter_s3(struct machine *m)
{
    if (m->suspended) {
        log_guest_error("S3 requested while already in S3");
        return;
    }
    log_info("guest entered S3 (suspend to RAM)");
    for (guint i = 0; i < m->devices->len; i++) {
        struct device_instance *inst = g_ptr_array_index(m->devices, i);
        if (inst->type->suspend != NULL) {
            inst->type->suspend(inst->dev);
        }
    }
    set_sleep_state(m, true);
}

bool machine_wakeup(struct machine *m)
{
    if (!m->suspended) {
        return false;
    }
    log_info("guest woken from S3");
    /* The firmware's resume path starts from reset state, as on qemu-xen. */
    machine_reset(m);
    set_sleep_state(m, false);
    return true;
}

/* ---- dirty log ---- */

#define MACHINE_PAGE_SHIFT 12

void machine_set_dirty_log(struct machine *m, bool enable)
{
    if (m->dirty_log != enable) {
        log_info("global dirty log %s", enable ? "on" : "off");
    }
    m->dirty_log = enable;
}

void machine_mark_dirty(struct machine *m, uint64_t gpa, size_t len)
{
    uint64_t first, last;

    if (!m->dirty_log || len == 0 || m->accel == NULL || m->accel->modified_memory == NULL) {
        return;
    }
    first = gpa >> MACHINE_PAGE_SHIFT;
    /* A range that wraps the address space is clipped at its top (no such RAM exists). */
    last = (len - 1 > UINT64_MAX - gpa ? UINT64_MAX : gpa + len - 1) >> MACHINE_PAGE_SHIFT;
    TRACE(machine_dirty, "gfn=0x%" PRIx64 " nr=%" PRIu64, first, last - first + 1);
    m->accel->modified_memory(m->accel_opaque, first, last - first + 1);
}

/* ---- device state ---- */

/* The instance id of a device: its own, or its position among devices of its type. */
static uint32_t device_instance_id(struct machine *m, guint index)
{
    struct device_instance *inst = g_ptr_array_index(m->devices, index);
    uint32_t ordinal = 0;

    if (inst->type->vmstate->instance_id != NULL) {
        return inst->type->vmstate->instance_id(inst->dev);
    }
    for (guint i = 0; i < index; i++) {
        struct device_instance *other = g_ptr_array_index(m->devices, i);
        ordinal += other->type == inst->type;
    }
    return ordinal;
}

void machine_add_state(struct machine *m, const struct vmstate_desc *desc, uint32_t instance_id,
                       void *obj)
{
    struct state_section *sec = g_new(struct state_section, 1);

    sec->desc = desc;
    sec->instance_id = instance_id;
    sec->obj = obj;
    g_ptr_array_add(m->core_state, sec);
}

void machine_remove_state(struct machine *m, void *obj)
{
    for (guint i = 0; i < m->core_state->len; i++) {
        struct state_section *sec = g_ptr_array_index(m->core_state, i);
        if (sec->obj == obj) {
            g_ptr_array_remove_index(m->core_state, i);
            return;
        }
    }
}

/* Every section this machine saves, in order: core state first, then the devices'. */
static GArray *state_sections(struct machine *m)
{
    GArray *all = g_array_new(FALSE, FALSE, sizeof(struct state_section));

    for (guint i = 0; i < m->core_state->len; i++) {
        g_array_append_vals(all, g_ptr_array_index(m->core_state, i), 1);
    }
    for (guint i = 0; i < m->devices->len; i++) {
        struct device_instance *inst = g_ptr_array_index(m->devices, i);
        struct state_section sec = {inst->type->vmstate, 0, inst->dev};
        if (sec.desc != NULL) {
            sec.instance_id = device_instance_id(m, i);
            g_array_append_val(all, sec);
        }
    }
    return all;
}

/*
 * The machine's own section: which kinds of emulated device the guest unplugged. A function
 * the guest unplugged saves nothing (its configuration space is gone), so the side that loads
 * must unplug the same devices before it looks for the sections of the others.
 */
static const struct vmstate_field unplug_state_fields[] = {
    VMSTATE_U32(struct machine_unplug_state, kinds),
    VMSTATE_END,
};

static const struct vmstate_desc unplug_state_vmstate = {
    .name = "machine-unplug",
    .version = 1,
    .fields = unplug_state_fields,
};

/* Unplugs what the saving side had unplugged and this side has not (yet). */
static bool load_unplug_state(struct machine *m, struct vmstate_stream *stream, GError **err)
{
    struct vmstate_pending *p = vmstate_pending_new(stream, &unplug_state_vmstate, 0, err);
    struct machine_unplug_state saved = {0};
    unsigned missing;

    if (p == NULL) {
        return false;
    }
    vmstate_pending_apply(p, &saved);
    missing = saved.kinds & ~m->unplugged.kinds & (UNPLUG_KIND_BIT(UNPLUG_KIND_COUNT) - 1);
    if (missing != 0) {
        log_info("device state: the guest had unplugged kinds 0x%x: unplugging them here",
                 missing);
        machine_unplug(m, missing);
    }
    return true;
}

GBytes *machine_save_state(struct machine *m)
{
    struct vmstate_writer *w;
    GArray *all;

    if (m == NULL) {
        return NULL;
    }
    w = vmstate_writer_new();
    vmstate_write_section(w, &unplug_state_vmstate, 0, &m->unplugged);
    all = state_sections(m);
    for (guint i = 0; i < all->len; i++) {
        const struct state_section *sec = &g_array_index(all, struct state_section, i);
        if (sec->desc->pre_save != NULL) {
            sec->desc->pre_save(sec->obj);
        }
        vmstate_write_section(w, sec->desc, sec->instance_id, sec->obj);
    }
    g_array_unref(all);
    return vmstate_writer_finish(w);
}

/*
 * The machine's unplug section first (it decides which devices the stream describes; a stream
 * that fails later leaves those devices unplugged, and the load is then refused as a whole:
 * the toolstack abandons a restore whose device state does not load). Then two passes: every
 * section is decoded and checked first; only when all of them (and nothing else) are there
 * and valid is any device touched.
 */
bool machine_load_state(struct machine *m, const uint8_t *data, size_t len, GError **err)
{
    struct vmstate_stream *stream = vmstate_stream_parse(data, len, err);
    GPtrArray *pending;
    GArray *all;
    bool ok = true;

    if (stream == NULL) {
        return false;
    }
    if (!load_unplug_state(m, stream, err)) {
        vmstate_stream_free(stream);
        return false;
    }
    all = state_sections(m);
    pending = g_ptr_array_new_full(all->len, (GDestroyNotify)vmstate_pending_free);
    for (guint i = 0; i < all->len && ok; i++) {
        const struct state_section *sec = &g_array_index(all, struct state_section, i);
        struct vmstate_pending *p = vmstate_pending_new(stream, sec->desc, sec->instance_id, err);
        ok = p != NULL;
        g_ptr_array_add(pending, p);
    }
    ok = ok && vmstate_stream_check_all_claimed(stream, err);
    for (guint i = 0; i < pending->len && ok; i++) {
        struct vmstate_pending *p = g_ptr_array_index(pending, i);
        g_ptr_array_index(pending, i) = NULL; /* apply frees it */
        vmstate_pending_apply(p, g_array_index(all, struct state_section, i).obj);
    }
    if (ok) {
        log_info("device state loaded: %u sections", vmstate_stream_section_count(stream));
    }
    g_ptr_array_unref(pending);
    g_array_unref(all);
    vmstate_stream_free(stream);
    return ok;
}

/* ---- timers ---- */

/*
 * A timer is a GSource on the thread's default main context whose ready time
 * is the deadline (GLib's monotonic clock, in microseconds); -1 disarms it.
 */
struct timer_source {
    GSource source;
    struct timer *timer;
};

struct timer {
    struct timer_source *src;
    void (*cb)(void *opaque);
    void *opaque;
    bool deferred; /* came due while the machine was stopped */
};

/*
 * While the machine is stopped (QMP stop, before saving) no timer callback runs, so device
 * state holds still; a timer that comes due waits and fires once the machine runs again.
 * One machine per process: this is the timer module's own state, not a device's.
 */
static bool timers_frozen;
static GPtrArray *timers_deferred; /* struct timer *, borrowed */

static void timer_undefer(struct timer *t)
{
    if (t->deferred) {
        g_ptr_array_remove_fast(timers_deferred, t);
        t->deferred = false;
    }
}

static gboolean timer_dispatch(GSource *source, GSourceFunc unused_cb, gpointer unused_data)
{
    struct timer *t = ((struct timer_source *)source)->timer;

    /* Disarm before the callback so that it may re-arm. */
    g_source_set_ready_time(source, -1);
    if (timers_frozen) {
        if (!t->deferred) {
            if (timers_deferred == NULL) {
                timers_deferred = g_ptr_array_new();
            }
            g_ptr_array_add(timers_deferred, t);
            t->deferred = true;
        }
        return G_SOURCE_CONTINUE;
    }
    t->cb(t->opaque);
    return G_SOURCE_CONTINUE;
}

void machine_set_running(struct machine *m, bool running)
{
    timers_frozen = !running;
    if (!running || timers_deferred == NULL) {
        return;
    }
    /* Due timers fire from the loop, as they would have. */
    while (timers_deferred->len > 0) {
        struct timer *t = g_ptr_array_index(timers_deferred, timers_deferred->len - 1);
        timer_undefer(t);
        g_source_set_ready_time(&t->src->source, 0);
    }
}

static GSourceFuncs timer_source_funcs = {
    .dispatch = timer_dispatch,
};

struct timer *timer_new(void (*cb)(void *opaque), void *opaque)
{
    struct timer *t = g_new0(struct timer, 1);

    t->cb = cb;
    t->opaque = opaque;
    t->src = (struct timer_source *)g_source_new(&timer_source_funcs, sizeof(*t->src));
    t->src->timer = t;
    g_source_set_ready_time(&t->src->source, -1);
    g_source_attach(&t->src->source, g_main_context_get_thread_default());
    return t;
}

void timer_arm_ns(struct timer *t, uint64_t delay_ns)
{
    timer_undefer(t); /* the new deadline replaces a due one */
    int64_t now = g_get_monotonic_time();
    uint64_t delay_us = delay_ns / 1000 + (delay_ns % 1000 != 0); /* never early */
    int64_t deadline;

    if (delay_us > (uint64_t)(INT64_MAX - now)) {
        deadline = INT64_MAX;
    } else {
        deadline = now + (int64_t)delay_us;
    }
    g_source_set_ready_time(&t->src->source, deadline);
}

void timer_cancel(struct timer *t)
{
    timer_undefer(t);
    g_source_set_ready_time(&t->src->source, -1);
}

bool timer_pending(const struct timer *t)
{
    return t->deferred || g_source_get_ready_time((GSource *)&t->src->source) != -1;
}

void timer_free(struct timer *t)
{
    if (t == NULL) {
        return;
    }
    timer_undefer(t);
    g_source_destroy(&t->src->source);
    g_source_unref(&t->src->source);
    g_free(t);
}

int64_t clock_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
