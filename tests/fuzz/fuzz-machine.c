/*
 * The fuzz targets' machine: assembly, fakes that check what the machine asks of them, and the
 * ioreq program interpreter (format below). See fuzz-machine.h.
 *
 * Program format: a sequence of steps, each an op byte (value % FUZZ_OP_COUNT) and its operands,
 * little-endian; operands past the end of the input read as zero, and the program ends when an
 * op byte would start past the end. "mode" bytes: bit 0 read, bit 1 df, bits 2-3 size code
 * (0..3 -> 1, 2, 4 and 8 bytes; 8 is invalid for PIO and PCI, which the engine must refuse).
 *
 *   PIO         mode | port u16 | value u32
 *   PIO_REP     mode | port u16 | count u16 | gpa u32                (data_is_ptr = 1)
 *   MMIO        mode | addr u64 | value u64 | count u16              (count > 1: REP STOS)
 *   MMIO_REP    mode | addr u64 | count u16 | gpa u32                (data_is_ptr = 1)
 *   PCI         mode | sbdf u32 | reg u16 | value u32
 *   BUFFERED    n u8 | how u8 | n * (word u32 | data u32) [| read u32 | write u32 if how & 1]
 *               how bit 0: the pointers are set raw (a broken producer); bit 1: drained by a
 *               sync request on the slot (as Xen orders them) rather than by the ring's event
 *   TIMEOFFSET  delta i64
 *   RAW         32 bytes: the slot as Xen would have written it, state included
 *   RAM         gpa u32 | len u8 | len bytes   (written straight into RAM, holes skipped)
 *   HOST_INPUT  serial u8 | len u8 | len bytes: typed into chardev "serialN" (N = serial % 4),
 *               delivered as the chardev does, no more than the UART says it has room for
 *   BAR         mode | devfn u8 | bar u8 | offset u32 | value u64 | count u16: a port (I/O BAR)
 *               or MMIO request at the BAR's current address + offset (bar % 6); nothing when
 *               the BAR does not decode, so that the fuzzer need not guess where firmware put it
 *   MEDIUM      which u8 | action u8: a CD-ROM ejected or inserted (fuzz_machine_medium)
 *   INVALIDATE, SAVE_LOAD, RESET, TIMERS: no operands
 *
 * Unless the config asks for manual draining, every drive's block requests are drained after
 * each step, so their completions run here, at the same point of every run.
 *
 * Every synchronous request goes through ioreq_service_slot() on a slot of our own, and the
 * slot is checked afterwards as Xen would see it (reference §1.3): state IORESP_READY, only
 * `data` (and only for a read without data_is_ptr) changed, read data no wider than the access.
 */
#include "fuzz-machine.h"

#include <fcntl.h>
#include <sanitizer/asan_interface.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chardev/chardev-internal.h"
#include "hw/ide/ide.h"
#include "hw/pci/pci-internal.h"
#include "xendm/block.h"
#include "xendm/log.h"
#include "xendm/mapcache.h"
#include "xendm/options.h"
#include "xendm/xenfv.h"

#define PAGE 4096u
/* Small buckets and a small bound: eviction and cross-bucket paths are reached quickly. */
#define FUZZ_BUCKET_SHIFT 16
#define FUZZ_MAX_BUCKETS 4
#define FUZZ_VP_EPORT 0x4d2u
#define FUZZ_TIMER_ROUNDS 16
#define FUZZ_MAX_SAVE_LOADS 1

const struct fuzz_machine_config fuzz_machine_full_config = {
    .serials = 4,
    .debugcon = true,
    .testdev = true,
    .pci_testdevs = true,
    .drives = true,
    .virtio = true,
    .nics = true,
    .vga = true,
};

void fuzz_quiet_logs(void)
{
    if (g_getenv("FUZZ_VERBOSE") == NULL) {
        log_set_level(LOG_LEVEL_ERROR);
    }
    /* A GLib warning or critical (a GError set twice, a g_return_if_fail) is a bug found. */
    g_log_set_always_fatal(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
}

/* ---- guest RAM: a buffer; hole pages are poisoned so a touch of one is an ASan report ---- */

static bool gfn_is_ram(uint64_t gfn)
{
    return gfn < FUZZ_RAM_SIZE / PAGE &&
           !(gfn >= FUZZ_HOLE_START / PAGE && gfn < FUZZ_HOLE_END / PAGE);
}

/*
 * One buffer for the whole run, zeroed for each machine: a fresh 1 MiB allocation per input
 * costs more page faults than the input's own work. The harness's own state, not a device's.
 */
static uint8_t *ram_buffer;
static bool ram_in_use;

static uint8_t *ram_acquire(void)
{
    FUZZ_CHECK(!ram_in_use, "two fuzz machines at once");
    if (ram_buffer == NULL) {
        ram_buffer = g_malloc(FUZZ_RAM_SIZE);
        ASAN_POISON_MEMORY_REGION(ram_buffer + FUZZ_HOLE_START, FUZZ_HOLE_END - FUZZ_HOLE_START);
    }
    memset(ram_buffer, 0, FUZZ_HOLE_START);
    memset(ram_buffer + FUZZ_HOLE_END, 0, FUZZ_RAM_SIZE - FUZZ_HOLE_END);
    ram_in_use = true;
    return ram_buffer;
}

static void ram_release(uint8_t *ram)
{
    FUZZ_CHECK(ram == ram_buffer && ram_in_use, "releasing RAM not acquired");
    ram_in_use = false;
}

static void *fake_map(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err)
{
    struct fuzz_machine *fm = opaque;
    bool any = false;
    void *addr;

    FUZZ_CHECK(nr > 0, "mapper asked for 0 pages");
    for (size_t i = 0; i < nr; i++) {
        bool ok = first_gfn + i >= first_gfn && gfn_is_ram(first_gfn + i);
        err[i] = ok ? 0 : -EFAULT;
        any |= ok;
    }
    if (!any) {
        return NULL;
    }
    /* Some page is RAM, so first_gfn is below the buffer's end: the pointer stays inside. */
    addr = fm->ram + first_gfn * PAGE;
    g_hash_table_insert(fm->live_maps, addr,
                        GSIZE_TO_POINTER(GPOINTER_TO_SIZE(g_hash_table_lookup(fm->live_maps,
                                                                              addr)) + 1));
    return addr;
}

static void fake_unmap(void *opaque, void *addr, size_t nr)
{
    struct fuzz_machine *fm = opaque;
    size_t live = GPOINTER_TO_SIZE(g_hash_table_lookup(fm->live_maps, addr));

    FUZZ_CHECK(live > 0, "mapcache unmapped %p, which it never mapped (or twice)", addr);
    if (live == 1) {
        g_hash_table_remove(fm->live_maps, addr);
    } else {
        g_hash_table_insert(fm->live_maps, addr, GSIZE_TO_POINTER(live - 1));
    }
}

/* ---- disk images: temporary files of the process, restored for every machine ---- */

enum fuzz_image {
    IMAGE_DISK0,    /* 1 MiB, read-write: primary master */
    IMAGE_DISK1,    /* 67 sectors, opened read-only: primary slave */
    IMAGE_CD,       /* an ISO 9660 volume of 48 sectors: secondary master */
    IMAGE_CD_SMALL, /* 5 sectors and 1000 bytes: the second medium QMP may insert */
    IMAGE_COUNT
};

#define DISK0_SIZE (1024u * 1024u)
#define DISK1_SIZE (67u * 512u)
#define CD_SECTOR 2048u
#define CD_SIZE (48u * CD_SECTOR)
#define CD_SMALL_SIZE (5u * CD_SECTOR + 1000u)
#define ISO_PVD_SECTOR 16u

static const char *const image_names[IMAGE_COUNT] = {"disk0.img", "disk1.img", "cd.iso",
                                                     "cd-small.iso"};
static const size_t image_sizes[IMAGE_COUNT] = {DISK0_SIZE, DISK1_SIZE, CD_SIZE, CD_SMALL_SIZE};

/* The harness's own state: where the images are, and whether the guest wrote the disk. */
static char *image_dir;
static char *image_path[IMAGE_COUNT];
static uint8_t *disk0_pristine;
static bool disk0_dirty;

/* Every 512-byte sector says which it is (LBA in its first 8 bytes), then a pattern. */
static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        size_t sector = i / 512, off = i % 512;
        buf[i] = off < 8 ? (uint8_t)(sector >> (8 * off)) : (uint8_t)(sector * 31 + off + seed);
    }
}

/* ECMA-119 §8.4 and §8.3: a primary volume descriptor, then the set terminator. */
static void fill_iso(uint8_t *buf, size_t len)
{
    static const char id[] = "CD001";

    fill_pattern(buf, len, 7);
    if (len < (ISO_PVD_SECTOR + 2) * CD_SECTOR) {
        return;
    }
    memset(buf + ISO_PVD_SECTOR * CD_SECTOR, 0, 2 * CD_SECTOR);
    buf[ISO_PVD_SECTOR * CD_SECTOR] = 1;
    memcpy(buf + ISO_PVD_SECTOR * CD_SECTOR + 1, id, 5);
    buf[ISO_PVD_SECTOR * CD_SECTOR + 6] = 1;
    memcpy(buf + ISO_PVD_SECTOR * CD_SECTOR + 40, "XENDM_FUZZ", 10);
    buf[(ISO_PVD_SECTOR + 1) * CD_SECTOR] = 0xff;
    memcpy(buf + (ISO_PVD_SECTOR + 1) * CD_SECTOR + 1, id, 5);
    buf[(ISO_PVD_SECTOR + 1) * CD_SECTOR + 6] = 1;
}

static void write_image(enum fuzz_image which, const uint8_t *data)
{
    int fd = open(image_path[which], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    FUZZ_CHECK(fd >= 0, "cannot create %s: %s", image_path[which], g_strerror(errno));
    FUZZ_CHECK(pwrite(fd, data, image_sizes[which], 0) == (ssize_t)image_sizes[which],
               "cannot write %s", image_path[which]);
    close(fd);
}

static void images_remove(void)
{
    for (unsigned i = 0; i < IMAGE_COUNT; i++) {
        if (image_path[i] != NULL) {
            unlink(image_path[i]);
        }
    }
    if (image_dir != NULL) {
        rmdir(image_dir);
    }
}

static void images_create(void)
{
    GError *err = NULL;

    image_dir = g_dir_make_tmp("xendm-fuzz-XXXXXX", &err);
    FUZZ_CHECK(image_dir != NULL, "no temporary directory for the disk images: %s",
               err != NULL ? err->message : "?");
    atexit(images_remove);
    for (unsigned i = 0; i < IMAGE_COUNT; i++) {
        uint8_t *data = g_malloc(image_sizes[i]);
        image_path[i] = g_build_filename(image_dir, image_names[i], NULL);
        if (i == IMAGE_CD || i == IMAGE_CD_SMALL) {
            fill_iso(data, image_sizes[i]);
        } else {
            fill_pattern(data, image_sizes[i], i);
        }
        write_image(i, data);
        if (i == IMAGE_DISK0) {
            disk0_pristine = data;
        } else {
            g_free(data);
        }
    }
}

/* Before each machine: the images as created; a guest never grows or shrinks a disk. */
static void images_prepare(void)
{
    struct stat st;

    if (image_dir == NULL) {
        images_create();
        return;
    }
    FUZZ_CHECK(stat(image_path[IMAGE_DISK0], &st) == 0 && st.st_size == DISK0_SIZE,
               "the guest's disk image changed size (%lld bytes, was %u)",
               (long long)st.st_size, DISK0_SIZE);
    if (disk0_dirty) {
        write_image(IMAGE_DISK0, disk0_pristine);
        disk0_dirty = false;
    }
}

/* After a machine: did anything write, or try to, the read-write disk? */
static void images_note_writes(struct fuzz_machine *fm)
{
    struct drive *disk = machine_find_drive(fm->m, "ide0-hd0");
    struct block_stats st;

    if (disk == NULL || disk->backend == NULL) {
        return;
    }
    block_get_stats(disk->backend, &st);
    if (st.wr_operations || st.discard_operations || st.failed_operations ||
        block_in_flight(disk->backend) > 0) {
        disk0_dirty = true;
    }
}

#define DRIVE_ARGS 12

/* The -drive and -device words: libxl's forms (disks by index, CD-ROMs by -device ide-cd). */
static const char *const *drive_args(void)
{
    static char *args[DRIVE_ARGS];

    if (args[0] == NULL) {
        args[0] = "-drive";
        /* cache=unsafe: a guest's FLUSH CACHE completes without an fdatasync, which would
         * cost milliseconds of every input and test the host's disk, not xendm. */
        args[1] = g_strdup_printf("file=%s,if=ide,index=0,media=disk,format=raw,"
                                  "cache=unsafe", image_path[IMAGE_DISK0]);
        args[2] = "-drive";
        args[3] = g_strdup_printf("file=%s,if=ide,index=1,media=disk,format=raw,readonly=on",
                                  image_path[IMAGE_DISK1]);
        args[4] = "-drive";
        args[5] = g_strdup_printf("if=none,readonly=on,id=cd0,file=%s,format=raw",
                                  image_path[IMAGE_CD]);
        args[6] = "-device";
        args[7] = "ide-cd,drive=cd0,bus=ide.1,unit=0";
        args[8] = "-drive";
        args[9] = "if=none,readonly=on,id=cd1";
        args[10] = "-device";
        args[11] = "ide-cd,drive=cd1,bus=ide.1,unit=1";
    }
    return (const char *const *)args;
}

/* ---- named checks a run may tolerate (FUZZ_TOLERATE) ---- */

/* The harness's own state: the parsed FUZZ_TOLERATE list and what it let through. */
static gchar **tolerated_names;
static bool tolerated_parsed;
static uint64_t tolerated_failures;
static GHashTable *tolerated_seen; /* name -> (void *)1 once reported */

static bool check_is_tolerated(const char *name)
{
    if (!tolerated_parsed) {
        const char *env = g_getenv("FUZZ_TOLERATE");
        tolerated_names = env != NULL ? g_strsplit(env, ",", -1) : NULL;
        tolerated_seen = g_hash_table_new(g_str_hash, g_str_equal);
        tolerated_parsed = true;
    }
    for (gchar **n = tolerated_names; n != NULL && *n != NULL; n++) {
        if (strcmp(*n, name) == 0 || strcmp(*n, "all") == 0) {
            return true;
        }
    }
    return false;
}

void fuzz_fail_named(const char *name, const char *fmt, ...)
{
    va_list ap;

    if (!check_is_tolerated(name)) {
        fprintf(stderr, "fuzz check failed: [%s] ", name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
    }
    tolerated_failures++;
    if (!g_hash_table_contains(tolerated_seen, name)) {
        /* Once per name and process: the run goes on, the finding is not forgotten. */
        g_hash_table_add(tolerated_seen, (gpointer)name);
        fprintf(stderr, "fuzz check tolerated (FUZZ_TOLERATE): [%s] ", name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

uint64_t fuzz_tolerated_count(void)
{
    return tolerated_failures;
}

/* ---- the accelerator: records, and checks every argument a device could get wrong ---- */

static void fake_set_isa_irq(void *opaque, unsigned irq, bool level)
{
    struct fuzz_machine *fm = opaque;

    fm->accel.calls++;
    FUZZ_CHECK(irq < MACHINE_ISA_IRQS, "ISA irq %u", irq);
    /* The machine reports transitions of the wired-OR line only. */
    FUZZ_CHECK(fm->accel.isa_level[irq] != level, "ISA irq %u set to %d twice", irq, level);
    fm->accel.isa_level[irq] = level;
}

/*
 * Xen keeps one bit per (slot, pin) and its assert/deassert are not counted (reference §3):
 * a second assert is lost and one deassert drops the line for every source. So the machine
 * must send level changes of the slot's wired-OR only.
 */
static void fake_set_pci_intx(void *opaque, unsigned slot, unsigned pin, bool level)
{
    struct fuzz_machine *fm = opaque;

    fm->accel.calls++;
    FUZZ_CHECK(slot < FUZZ_PCI_SLOTS && pin < FUZZ_PCI_PINS, "INTx slot %u pin %u", slot, pin);
    FUZZ_CHECK_NAMED("intx-level-change", fm->accel.intx_level[slot][pin] != level,
                     "set_pci_intx_level(slot %u, INT%c, %d) while Xen's line is already %d",
                     slot, 'A' + pin, level, level);
    fm->accel.intx_level[slot][pin] = level;
    fm->accel.intx_changes++;
}

/* PIIX3 forwards PIRQRC writes as bit 7 ? 0 : value & 0xF (reference §3), changes only. */
static void fake_set_pci_link_route(void *opaque, unsigned link, unsigned isa_irq)
{
    struct fuzz_machine *fm = opaque;

    fm->accel.calls++;
    FUZZ_CHECK(link < FUZZ_PCI_LINKS && isa_irq < MACHINE_ISA_IRQS, "link %u -> irq %u", link,
               isa_irq);
    FUZZ_CHECK(fm->accel.link_route[link] != isa_irq, "link %u routed to irq %u twice", link,
               isa_irq);
    fm->accel.link_route[link] = (uint8_t)isa_irq;
    fm->accel.link_route_changes++;
}

/* ---- MSI: which function could have sent this message? (PCI 3.0 §6.8) ---- */

#define MSI_CTRL_ENABLE 0x0001u
#define MSI_CTRL_MME_SHIFT 4
#define MSI_CTRL_MME_MASK 0x0070u
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_CTRL_ENABLE 0x8000u
#define MSIX_ENTRY_SIZE 16u
/* Interrupt messages are writes into the local APIC window (Intel SDM vol. 3 §10.11.1). */
#define MSI_ADDR_WINDOW_MASK 0xfff00000u
#define MSI_ADDR_WINDOW 0xfee00000u

/* Xen maps vector-0 messages onto pirqs, masked through event channels (reference §3). */
static bool msi_data_is_pirq(uint32_t data)
{
    return (data & 0xffu) == 0;
}

static bool msi_source_matches(struct pci_device *d, uint64_t addr, uint32_t data)
{
    uint32_t cap = (uint32_t)d->msi.cap;
    uint16_t control;
    uint32_t data_reg = d->msi.addr64 ? 0xc : 0x8, count, vector, stored;
    uint64_t programmed;

    if (d->msi.cap < 0) {
        return false;
    }
    control = pci_get_word(d, cap + 2);
    programmed = pci_get_long(d, cap + 4);
    if (d->msi.addr64) {
        programmed |= (uint64_t)pci_get_long(d, cap + 8) << 32;
    }
    count = 1u << ((control & MSI_CTRL_MME_MASK) >> MSI_CTRL_MME_SHIFT);
    stored = pci_get_word(d, cap + data_reg);
    vector = data & (count - 1);
    if (!(control & MSI_CTRL_ENABLE) || programmed != addr ||
        (data & ~(count - 1)) != (stored & ~(count - 1)) || vector >= d->msi.nr_vectors) {
        return false;
    }
    if (d->msi.per_vector_mask && !msi_data_is_pirq(stored) &&
        ((pci_get_long(d, cap + data_reg + 4) >> vector) & 1)) {
        return false; /* masked: it should have been left pending */
    }
    return true;
}

static uint32_t msix_entry_word(const struct pci_device *d, unsigned vector, unsigned reg)
{
    const uint8_t *p = d->msix.table + vector * MSIX_ENTRY_SIZE + reg;

    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool msix_source_matches(struct pci_device *d, uint64_t addr, uint32_t data)
{
    uint16_t control;

    if (d->msix.cap < 0) {
        return false;
    }
    control = pci_get_word(d, (uint32_t)d->msix.cap + 2);
    if (!(control & MSIX_CTRL_ENABLE)) {
        return false;
    }
    for (unsigned v = 0; v < d->msix.nr_vectors; v++) {
        uint32_t lo = msix_entry_word(d, v, 0), hi = msix_entry_word(d, v, 4);
        uint32_t entry_data = msix_entry_word(d, v, 8), ctrl = msix_entry_word(d, v, 12);
        bool pirq = msi_data_is_pirq(entry_data) && lo != 0;
        bool masked = !pirq && ((control & MSIX_CTRL_MASKALL) || (ctrl & 1));

        if (((uint64_t)hi << 32 | lo) == addr && entry_data == data && !masked) {
            return true;
        }
    }
    return false;
}

static void fake_inject_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct fuzz_machine *fm = opaque;
    struct pci_bus *bus = machine_pci_bus(fm->m);
    struct pci_device *source = NULL;

    fm->accel.calls++;
    fm->accel.msis++;
    for (unsigned devfn = 0; bus != NULL && devfn < FUZZ_SBDFS && source == NULL; devfn++) {
        struct pci_device *d = pci_bus_find(bus, devfn);
        if (d != NULL &&
            (msi_source_matches(d, addr, data) || msix_source_matches(d, addr, data))) {
            source = d;
        }
    }
    FUZZ_CHECK(source != NULL,
               "inject_msi(0x%" G_GINT64_MODIFIER "x, 0x%x): no enabled, unmasked MSI or MSI-X "
               "vector of any function holds that message", addr, data);
    /* The full address goes to Xen (pirq bits above 32); the low half must hit the APIC. */
    FUZZ_CHECK_NAMED("msi-address", ((uint32_t)addr & MSI_ADDR_WINDOW_MASK) == MSI_ADDR_WINDOW,
                     "%s sent an MSI to 0x%" G_GINT64_MODIFIER "x (data 0x%x), outside "
                     "0xfee00000-0xfeefffff: hardware would write memory there, not interrupt",
                     pci_device_name(source), addr, data);
    /* An MSI is a memory write: no bus mastering, no message (PCI 3.0 §6.2.2, bit 2). */
    FUZZ_CHECK_NAMED("msi-bus-master", pci_get_word(source, PCI_COMMAND) & PCI_COMMAND_MASTER,
                     "%s sent an MSI (0x%" G_GINT64_MODIFIER "x, 0x%x) with bus mastering off",
                     pci_device_name(source), addr, data);
}

/* Xen refuses a second claim of an SBDF (EEXIST) and a release of one not claimed (ENOENT). */
static void fake_claim_pcidev(void *opaque, uint32_t sbdf, bool add)
{
    struct fuzz_machine *fm = opaque;

    fm->accel.calls++;
    FUZZ_CHECK(sbdf < FUZZ_SBDFS, "claim of SBDF 0x%x beyond bus 0", sbdf);
    FUZZ_CHECK(fm->accel.sbdf_claimed[sbdf] != add, "SBDF 00:%02x.%u %s twice", sbdf >> 3,
               sbdf & 7, add ? "claimed" : "released");
    fm->accel.sbdf_claimed[sbdf] = add;
}

static void fake_request_shutdown(void *opaque, enum shutdown_reason reason)
{
    struct fuzz_machine *fm = opaque;

    fm->accel.calls++;
    fm->accel.shutdowns++;
    FUZZ_CHECK((unsigned)reason <= SHUTDOWN_CRASH, "shutdown reason %d", (int)reason);
    fm->accel.shutdown_reasons[reason]++;
    FUZZ_CHECK(fm->m->shutdown_requested && fm->m->shutdown_reason == reason,
               "shutdown %d reached Xen before the machine recorded it", (int)reason);
}

/* The only pages a device may change the type of: the platform device's ROM area. */
static bool fake_set_mem_type(void *opaque, uint64_t first_gfn, uint32_t nr, bool read_only)
{
    struct fuzz_machine *fm = opaque;

    fm->accel.calls++;
    fm->accel.mem_type_calls++;
    FUZZ_CHECK(nr > 0 && first_gfn + nr > first_gfn, "mem type gfn 0x%" G_GINT64_MODIFIER "x nr %u",
               first_gfn, nr);
    FUZZ_CHECK(first_gfn == FUZZ_ROM_FIRST_GFN && nr == FUZZ_ROM_PAGES,
               "set_mem_type(gfn 0x%" G_GINT64_MODIFIER "x, %u pages, %s) outside the ROM area",
               first_gfn, nr, read_only ? "ro" : "rw");
    fm->accel.rom_locked = read_only;
    return true;
}

static void fake_modified_memory(void *opaque, uint64_t first_gfn, uint64_t nr)
{
    struct fuzz_machine *fm = opaque;

    fm->accel.calls++;
    FUZZ_CHECK(nr > 0 && first_gfn + (nr - 1) >= first_gfn,
               "dirty range gfn 0x%" G_GINT64_MODIFIER "x nr %" G_GUINT64_FORMAT, first_gfn, nr);
}

/* xc_hvm_param ACPI_S_STATE: 3 when the guest enters S3, 0 when it is woken. */
static void fake_set_acpi_sleep_state(void *opaque, unsigned state)
{
    struct fuzz_machine *fm = opaque;

    fm->accel.calls++;
    FUZZ_CHECK(state == 0 || state == 3, "ACPI sleep state %u", state);
    FUZZ_CHECK(fm->m->suspended == (state == 3), "ACPI sleep state %u, the machine is %s",
               state, fm->m->suspended ? "suspended" : "running");
    if (state == 3) {
        fm->accel.s3_entries++;
    }
}

static const struct accel_ops fake_accel_ops = {
    .set_acpi_sleep_state = fake_set_acpi_sleep_state,
    .set_isa_irq = fake_set_isa_irq,
    .set_pci_intx = fake_set_pci_intx,
    .set_pci_link_route = fake_set_pci_link_route,
    .inject_msi = fake_inject_msi,
    .claim_pcidev = fake_claim_pcidev,
    .request_shutdown = fake_request_shutdown,
    .set_mem_type = fake_set_mem_type,
    .modified_memory = fake_modified_memory,
};

/* ---- claimed ranges: the address spaces' listener, as accel/xen installs it ---- */

static const char *const kind_names[] = {"port", "MMIO"};

/* Xen refuses a range overlapping one the server has (EEXIST, reference §2 step 7). */
static void fake_range_added(void *opaque, enum address_space_kind kind, uint64_t start,
                             uint64_t last)
{
    struct fuzz_machine *fm = opaque;
    GArray *ranges = fm->accel.claimed[kind];
    struct fuzz_range r = {start, last};

    FUZZ_CHECK(start <= last, "%s range 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
               "x is empty", kind_names[kind], start, last);
    FUZZ_CHECK(kind == ADDRESS_SPACE_MMIO || last <= 0xffff, "port range ends at 0x%"
               G_GINT64_MODIFIER "x", last);
    for (guint i = 0; i < ranges->len; i++) {
        const struct fuzz_range *o = &g_array_index(ranges, struct fuzz_range, i);
        FUZZ_CHECK(last < o->start || start > o->last,
                   "%s range 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x claimed over "
                   "0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x", kind_names[kind], start,
                   last, o->start, o->last);
    }
    g_array_append_val(ranges, r);
    fm->accel.range_claims++;
}

/* A release must name a range exactly as claimed: what the machine added, it removes. */
static void fake_range_removed(void *opaque, enum address_space_kind kind, uint64_t start,
                               uint64_t last)
{
    struct fuzz_machine *fm = opaque;
    GArray *ranges = fm->accel.claimed[kind];

    for (guint i = 0; i < ranges->len; i++) {
        const struct fuzz_range *o = &g_array_index(ranges, struct fuzz_range, i);
        if (o->start == start && o->last == last) {
            g_array_remove_index_fast(ranges, i);
            return;
        }
    }
    fuzz_fail("%s range 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x released, never "
              "claimed", kind_names[kind], start, last);
}

static const struct address_space_listener fake_listener_template = {
    .region_added = fake_range_added,
    .region_removed = fake_range_removed,
};

static void install_listeners(struct fuzz_machine *fm)
{
    struct address_space_listener listener = fake_listener_template;

    fm->accel.claimed[ADDRESS_SPACE_IO] = g_array_new(FALSE, FALSE, sizeof(struct fuzz_range));
    fm->accel.claimed[ADDRESS_SPACE_MMIO] = g_array_new(FALSE, FALSE, sizeof(struct fuzz_range));
    listener.opaque = fm;
    address_space_set_listener(fm->m->io, &listener);
    address_space_set_listener(fm->m->mmio, &listener);
}

/* ---- assembly: the command line main would get ---- */

/*
 * The xendm-testdev functions (fuzz-machine.h): the default one, one with the largest MSI
 * and an MSI-X table whose PBA spans two qwords, and an INTx-only function 1 beside it whose
 * INTA shares slot 4's line with function 0.
 */
static const char *const pci_testdev_args[] = {
    "xendm-testdev,addr=3",
    "xendm-testdev,addr=4.0,msi-vectors=32,msix-vectors=65",
    "xendm-testdev,addr=4.1,msi-vectors=0,msix-vectors=0",
};

/* What .virtio adds after the drives (NULL: the -drive of the read-only disk's image). */
static const char *const virtio_args[] = {
    "-drive", NULL,
    "-device", "virtio-blk-pci,drive=fvd0,addr=5",
    "-device", "virtio-rng-pci,addr=6",
    "-netdev", "socket,id=fnet0,udp=127.0.0.1:9,localaddr=127.0.0.1:0",
    "-device", "virtio-net-pci,netdev=fnet0,addr=7",
    "-device", "virtio-serial-pci,addr=8",
    "-chardev", "null,id=fvc0",
    "-device", "virtconsole,chardev=fvc0",
};

static const char *const nic_args[] = {
    "-netdev", "socket,id=fnic0,udp=127.0.0.1:9,localaddr=127.0.0.1:0",
    "-device", "rtl8139,netdev=fnic0,addr=9,romfile=",
    "-netdev", "socket,id=fnic1,udp=127.0.0.1:9,localaddr=127.0.0.1:0",
    "-device", "e1000,netdev=fnic1,addr=a,romfile=",
};

static GPtrArray *machine_argv(const struct fuzz_machine_config *cfg)
{
    GPtrArray *argv = g_ptr_array_new();

    g_ptr_array_add(argv, "xendm");
    g_ptr_array_add(argv, "-xen-domid");
    g_ptr_array_add(argv, "1");
    for (unsigned i = 0; i < cfg->serials && i < XENDM_MAX_SERIALS; i++) {
        g_ptr_array_add(argv, "-serial");
        g_ptr_array_add(argv, "null");
    }
    if (cfg->debugcon) {
        g_ptr_array_add(argv, "-chardev");
        g_ptr_array_add(argv, "null,id=fuzzdbg");
        g_ptr_array_add(argv, "-device");
        g_ptr_array_add(argv, "isa-debugcon,iobase=0x402,chardev=fuzzdbg");
    }
    if (cfg->testdev) {
        g_ptr_array_add(argv, "-device");
        g_ptr_array_add(argv, "pc-testdev");
    }
    if (cfg->pci_testdevs) {
        for (size_t i = 0; i < G_N_ELEMENTS(pci_testdev_args); i++) {
            g_ptr_array_add(argv, "-device");
            g_ptr_array_add(argv, (gpointer)pci_testdev_args[i]);
        }
    }
    if (cfg->drives) {
        const char *const *args = drive_args();
        for (size_t i = 0; i < DRIVE_ARGS; i++) {
            g_ptr_array_add(argv, (gpointer)args[i]);
        }
    }
    if (cfg->virtio && cfg->drives) {
        static char *vdisk;
        if (vdisk == NULL) {
            vdisk = g_strdup_printf("if=none,id=fvd0,file=%s,format=raw,readonly=on",
                                    image_path[IMAGE_DISK1]);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(virtio_args); i++) {
            g_ptr_array_add(argv, virtio_args[i] != NULL ? (gpointer)virtio_args[i] : vdisk);
        }
    }
    for (size_t i = 0; cfg->nics && i < G_N_ELEMENTS(nic_args); i++) {
        g_ptr_array_add(argv, (gpointer)nic_args[i]);
    }
    if (cfg->vga) {
        g_ptr_array_add(argv, "-device");
        g_ptr_array_add(argv, "VGA,vgamem_mb=16,romfile=,addr=b");
    }
    return argv;
}

static void assemble(struct fuzz_machine *fm, const struct fuzz_machine_config *cfg)
{
    struct xendm_config *xcfg = config_new();
    GPtrArray *argv = machine_argv(cfg);
    GError *err = NULL;

    if (!options_parse(xcfg, (int)argv->len, (char **)argv->pdata, &err) ||
        !xenfv_assemble(fm->m, xcfg, &err)) {
        fuzz_fail("the fuzz machine's command line was refused: %s", err->message);
    }
    config_free(xcfg);
    g_ptr_array_free(argv, TRUE);
}

struct fuzz_machine *fuzz_machine_new(const struct fuzz_machine_config *cfg)
{
    struct fuzz_machine *fm = g_new0(struct fuzz_machine, 1);
    const struct mapcache_config mc_cfg = {
        .bucket_shift = FUZZ_BUCKET_SHIFT,
        .max_buckets = FUZZ_MAX_BUCKETS,
    };
    const struct mapcache_mapper mapper = {fake_map, fake_unmap, fm};

    if (cfg->drives) {
        images_prepare();
    }
    fm->manual_drain = cfg->manual_drain;
    fm->ring_locks = cfg->virtio;
    fm->ram = ram_acquire();
    fm->live_maps = g_hash_table_new(g_direct_hash, g_direct_equal);
    fm->buf_page = g_new0(struct xenabi_buffered_iopage, 1);
    fm->mc = mapcache_new(&mapper, &mc_cfg);
    FUZZ_CHECK(fm->mc != NULL, "mapcache_new failed");
    fm->m = machine_new();
    fm->m->mapcache = fm->mc;
    fm->m->ram_size = FUZZ_RAM_SIZE;
    fm->m->accel = &fake_accel_ops;
    fm->m->accel_opaque = fm;
    install_listeners(fm);
    assemble(fm, cfg);
    machine_reset(fm->m);
    /* As during live migration: every device write to RAM is reported (machine_mark_dirty). */
    fm->m->dirty_log = true;
    return fm;
}

/* Once every device is gone, Xen must hold nothing of ours: no claim, no raised INTx. */
static void check_accel_released(struct fuzz_machine *fm)
{
    for (unsigned kind = 0; kind < 2; kind++) {
        GArray *ranges = fm->accel.claimed[kind];
        if (ranges->len > 0) {
            const struct fuzz_range *r = &g_array_index(ranges, struct fuzz_range, 0);
            fuzz_fail("%u %s ranges still claimed after every device left, e.g. 0x%"
                      G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x", ranges->len,
                      kind_names[kind], r->start, r->last);
        }
        g_array_free(ranges, TRUE);
    }
    for (unsigned sbdf = 0; sbdf < FUZZ_SBDFS; sbdf++) {
        FUZZ_CHECK(!fm->accel.sbdf_claimed[sbdf], "SBDF 00:%02x.%u still claimed at the end",
                   sbdf >> 3, sbdf & 7);
    }
    for (unsigned slot = 0; slot < FUZZ_PCI_SLOTS; slot++) {
        for (unsigned pin = 0; pin < FUZZ_PCI_PINS; pin++) {
            FUZZ_CHECK_NAMED("intx-wired-or", !fm->accel.intx_level[slot][pin],
                             "INTx of slot %u INT%c still raised after every device left", slot,
                             'A' + pin);
        }
    }
}

void fuzz_machine_free(struct fuzz_machine *fm)
{
    images_note_writes(fm);
    machine_free(fm->m);
    for (unsigned irq = 0; irq < MACHINE_ISA_IRQS; irq++) {
        FUZZ_CHECK(!fm->accel.isa_level[irq], "ISA irq %u still raised after every device left",
                   irq);
    }
    check_accel_released(fm);
    mapcache_free(fm->mc);
    FUZZ_CHECK(g_hash_table_size(fm->live_maps) == 0, "%u guest mappings leaked",
               g_hash_table_size(fm->live_maps));
    g_hash_table_destroy(fm->live_maps);
    ram_release(fm->ram);
    g_free(fm->buf_page);
    g_free(fm);
}

/* ---- invariants ---- */

/*
 * Each slot's pins are wired-OR (PCI 3.0 §2.2.6): Xen's bit for a pin must be the OR of the
 * lines the slot's functions drive on it (each function's line already folds in INTx
 * disable and MSI/MSI-X enable).
 */
static void check_intx(struct fuzz_machine *fm, struct pci_bus *bus)
{
    for (unsigned slot = 0; slot < FUZZ_PCI_SLOTS; slot++) {
        bool want[FUZZ_PCI_PINS] = {false};
        for (unsigned fn = 0; fn < PCI_FUNC_MAX; fn++) {
            const struct pci_device *d = pci_bus_find(bus, PCI_DEVFN(slot, fn));
            if (d != NULL && d->intx_line && d->intx_pin < FUZZ_PCI_PINS) {
                want[d->intx_pin] = true;
            }
        }
        for (unsigned pin = 0; pin < FUZZ_PCI_PINS; pin++) {
            FUZZ_CHECK_NAMED("intx-wired-or", fm->accel.intx_level[slot][pin] == want[pin],
                             "INTx slot %u INT%c: Xen has %d, the slot's functions drive %d",
                             slot, 'A' + pin, fm->accel.intx_level[slot][pin], want[pin]);
        }
    }
}

#define PIIX3_FUNCTION PCI_DEVFN(1, 0)
#define PIIX3_PIRQRC 0x60
#define PIRQRC_DISABLE 0x80
#define PIRQRC_IRQ_MASK 0x0f

/* Xen's route of each link is what PIIX3's PIRQRC register says (reference §3). */
static void check_link_routes(struct fuzz_machine *fm, struct pci_bus *bus)
{
    const struct pci_device *piix3 = pci_bus_find(bus, PIIX3_FUNCTION);

    for (unsigned link = 0; piix3 != NULL && link < FUZZ_PCI_LINKS; link++) {
        uint8_t reg = pci_get_byte(piix3, PIIX3_PIRQRC + link);
        uint8_t want = (reg & PIRQRC_DISABLE) ? 0 : (reg & PIRQRC_IRQ_MASK);
        FUZZ_CHECK_NAMED("link-route-pirqrc", fm->accel.link_route[link] == want,
                         "link %u: Xen routes it to irq %u, PIRQRC holds 0x%02x", link,
                         fm->accel.link_route[link], reg);
    }
}

void fuzz_machine_adopt_loaded_state(struct fuzz_machine *fm)
{
    struct pci_bus *bus = machine_pci_bus(fm->m);
    const struct pci_device *piix3;

    fm->state_from_stream = true;

    if (bus == NULL) {
        return;
    }
    memset(fm->accel.intx_level, 0, sizeof(fm->accel.intx_level));
    for (unsigned devfn = 0; devfn < FUZZ_SBDFS; devfn++) {
        const struct pci_device *d = pci_bus_find(bus, devfn);
        if (d != NULL && d->intx_line && d->intx_pin < FUZZ_PCI_PINS) {
            fm->accel.intx_level[PCI_SLOT(devfn)][d->intx_pin] = true;
        }
    }
    piix3 = pci_bus_find(bus, PIIX3_FUNCTION);
    for (unsigned link = 0; piix3 != NULL && link < FUZZ_PCI_LINKS; link++) {
        uint8_t reg = pci_get_byte(piix3, PIIX3_PIRQRC + link);
        fm->accel.link_route[link] = (reg & PIRQRC_DISABLE) ? 0 : (reg & PIRQRC_IRQ_MASK);
    }
}

void fuzz_machine_check_lines(struct fuzz_machine *fm)
{
    struct pci_bus *bus = machine_pci_bus(fm->m);

    for (unsigned irq = 0; irq < MACHINE_ISA_IRQS; irq++) {
        bool high = fm->m->isa_irq_count[irq] > 0;
        FUZZ_CHECK(fm->accel.isa_level[irq] == high,
                   "ISA irq %u: accelerator has level %d, %u sources drive it", irq,
                   fm->accel.isa_level[irq], fm->m->isa_irq_count[irq]);
    }
    if (bus != NULL) {
        check_intx(fm, bus);
        check_link_routes(fm, bus);
    }
    FUZZ_CHECK(address_space_count(fm->m->io) == fm->accel.claimed[ADDRESS_SPACE_IO]->len &&
               address_space_count(fm->m->mmio) == fm->accel.claimed[ADDRESS_SPACE_MMIO]->len,
               "claimed ranges (%u port, %u MMIO) differ from the regions (%u, %u)",
               fm->accel.claimed[ADDRESS_SPACE_IO]->len,
               fm->accel.claimed[ADDRESS_SPACE_MMIO]->len, address_space_count(fm->m->io),
               address_space_count(fm->m->mmio));
}

/*
 * Between requests no device holds guest memory, except the IDE bus master while its block
 * request is in flight (it locks each piece, and unlocks it in the completion) and an enabled
 * virtqueue (its rings stay locked while the queue is enabled: with virtio functions the check
 * waits for a reset, which disables every queue).
 */
static void check_mapcache(struct fuzz_machine *fm, bool after_reset)
{
    struct mapcache_stats st;

    if (fuzz_machine_in_flight(fm) > 0) {
        return;
    }
    mapcache_get_stats(fm->mc, &st);
    FUZZ_CHECK((fm->ring_locks && !after_reset) ||
               (st.locked_buckets == 0 && st.dedicated_mappings == 0),
               "a lock outlived its request: %zu locked buckets, %zu dedicated mappings",
               st.locked_buckets, st.dedicated_mappings);
    FUZZ_CHECK(st.mapped_buckets <= FUZZ_MAX_BUCKETS, "%zu buckets mapped, bound %u",
               st.mapped_buckets, FUZZ_MAX_BUCKETS);
}

/* ---- drives ---- */

unsigned fuzz_machine_in_flight(struct fuzz_machine *fm)
{
    unsigned n = 0;

    for (guint i = 0; fm->m->drives != NULL && i < fm->m->drives->len; i++) {
        struct drive *drive = g_ptr_array_index(fm->m->drives, i);
        if (drive->backend != NULL) {
            n += block_in_flight(drive->backend);
        }
    }
    return n;
}

void fuzz_machine_drain(struct fuzz_machine *fm)
{
    /* A completion may submit the next chunk on its own backend (block_drain waits for that
     * too) or touch another drive's: go round until every backend is idle. */
    for (unsigned rounds = 0; fuzz_machine_in_flight(fm) > 0; rounds++) {
        FUZZ_CHECK(rounds < 1000, "block requests keep coming after 1000 drains");
        for (guint i = 0; i < fm->m->drives->len; i++) {
            struct drive *drive = g_ptr_array_index(fm->m->drives, i);
            if (drive->backend != NULL && block_in_flight(drive->backend) > 0) {
                block_drain(drive->backend);
            }
        }
    }
    fuzz_machine_check_lines(fm);
    fuzz_machine_check_ide(fm, true);
    check_mapcache(fm, false);
}

void fuzz_machine_medium(struct fuzz_machine *fm, unsigned which, unsigned action)
{
    struct drive *drive = machine_find_drive(fm->m, which % 2 ? "cd1" : "cd0");
    struct piix_ide *ide = machine_find_device(fm->m, "piix3-ide");
    const struct ide_drive *d = ide != NULL ? &ide->ch[1].drives[which % 2] : NULL;
    struct block_backend *before;
    GError *err = NULL;
    bool locked, ok;

    if (drive == NULL || d == NULL || d->drive != drive) {
        return;
    }
    locked = d->cd.locked;
    before = drive->backend;
    if (action % 4 < 2) {
        ok = drive_eject(drive, action % 4 == 1, &err);
        FUZZ_CHECK(ok || (locked && action % 4 == 0), "eject refused: %s",
                   err != NULL ? err->message : "(no reason)");
        FUZZ_CHECK(!ok || (drive->backend == NULL && d->cd.tray_open),
                   "an accepted eject left the medium in or the tray closed");
    } else {
        struct block_open_options open = {
            .filename = image_path[action % 4 == 2 ? IMAGE_CD : IMAGE_CD_SMALL],
            .fd = -1,
            .read_only = true,
            .cache = BLOCK_CACHE_WRITEBACK,
        };
        ok = drive_change_medium(drive, &open, &err);
        FUZZ_CHECK(ok || locked, "change of medium refused: %s",
                   err != NULL ? err->message : "(no reason)");
        FUZZ_CHECK(ok ? drive->backend != NULL && drive->backend != before &&
                            d->cd.unit_attention && !d->cd.tray_open
                      : drive->backend == before,
                   "a change of medium %s, but the drive says otherwise",
                   ok ? "succeeded" : "was refused");
    }
    if (!ok) {
        FUZZ_CHECK(err != NULL && err->message[0] != '\0',
                   "a refused medium change gave no reason");
        g_error_free(err);
    }
}

/* One drive: every index the data port and the bus master use stays in its buffer. */
static void check_ide_drive(const struct ide_channel *ch, const struct ide_drive *d, bool idle,
                            bool trusted)
{
    const char *where = ch->index ? (d->unit ? "ide1.1" : "ide1.0")
                                  : (d->unit ? "ide0.1" : "ide0.0");

    /* While a sector read is in flight the drive is BSY and the indexes wait for it. */
    FUZZ_CHECK(d->io_busy || (d->buf_pos <= d->drq_end && d->drq_end <= d->buf_end &&
                              d->buf_end <= IDE_BUF_SIZE),
               "%s: buffer indexes pos %u, drq end %u, end %u (size %u)", where, d->buf_pos,
               d->drq_end, d->buf_end, IDE_BUF_SIZE);
    FUZZ_CHECK(!d->dma_pending || d->dma_kind != IDE_DMA_FROM_BUF ||
                   (d->dma_offset <= IDE_BUF_SIZE &&
                    d->dma_bytes_left <= IDE_BUF_SIZE - d->dma_offset),
               "%s: a DMA reply of %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
               " of the buffer", where, d->dma_bytes_left, d->dma_offset);
    FUZZ_CHECK(d->mult_sectors <= IDE_MAX_MULTIPLE &&
                   ((d->op != IDE_OP_READ && d->op != IDE_OP_WRITE) ||
                    (d->drq_sectors >= 1 && d->drq_sectors <= IDE_MAX_MULTIPLE)),
               "%s: %u sectors a block (multiple %u)", where, d->drq_sectors, d->mult_sectors);
    if (!idle) {
        return;
    }
    FUZZ_CHECK(!d->io_busy, "%s: waits for a block request that is not in flight", where);
    /* A guest polls BSY until it clears: with nothing in flight, it would poll for ever. */
    FUZZ_CHECK_NAMED("ide-busy-hang", !trusted || !ide_drive_present(d) ||
                         !(d->status & ATA_STATUS_BSY) || (ch->devctl & ATA_DEVCTL_SRST),
                     "%s: BSY (status 0x%02x, op %u, command 0x%02x) with no request in "
                     "flight and no SRST: the guest waits for ever", where, d->status, d->op,
                     d->command);
}

void fuzz_machine_check_ide(struct fuzz_machine *fm, bool idle)
{
    struct piix_ide *ide = machine_find_device(fm->m, "piix3-ide");
    bool trusted = !fm->state_from_stream;

    for (unsigned c = 0; ide != NULL && c < 2; c++) {
        const struct ide_channel *ch = &ide->ch[c];
        FUZZ_CHECK(ch->cur_unit <= 1 && ch->prd_index <= IDE_PRD_MAX_ENTRIES &&
                       ch->nr_pieces <= IDE_DMA_MAX_IOV,
                   "ide%u: unit %u, PRD entry %u, %u pieces", c, ch->cur_unit, ch->prd_index,
                   ch->nr_pieces);
        FUZZ_CHECK(ch->dma_in_flight || ch->nr_pieces == 0,
                   "ide%u: %u pieces of guest memory locked with no DMA in flight", c,
                   ch->nr_pieces);
        FUZZ_CHECK(!idle || !ch->dma_in_flight, "ide%u: a DMA request in flight after a drain",
                   c);
        /* SFF-8038i §2.2: ACTIVE is set by start and cleared by stop or the transfer's end. */
        FUZZ_CHECK_NAMED("bm-active-without-start",
                         !trusted || !(ch->bm_status & BM_STATUS_ACTIVE) ||
                             (ch->bm_cmd & BM_CMD_START),
                         "ide%u: bus master ACTIVE while stopped (command 0x%02x, status "
                         "0x%02x)", c, ch->bm_cmd, ch->bm_status);
        for (unsigned u = 0; u < 2; u++) {
            check_ide_drive(ch, &ch->drives[u], idle, trusted);
        }
    }
}

/*
 * The stream is self-describing: the field names just before the first difference say which
 * device and field a round trip changed.
 */
static void report_stream_change(GBytes *first, GBytes *second)
{
    gsize len1, len2, at = 0;
    const uint8_t *a = g_bytes_get_data(first, &len1), *b = g_bytes_get_data(second, &len2);
    GString *names = g_string_new(NULL);

    while (at < len1 && at < len2 && a[at] == b[at]) {
        at++;
    }
    for (gsize i = at > 160 ? at - 160 : 0; i < at; i++) {
        g_string_append_c(names, g_ascii_isprint(a[i]) ? (char)a[i] : '.');
    }
    fuzz_fail_named("save-load-stable", "save -> load -> save changed the stream at byte %"
                    G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT ", after \"%s\"", at, len1,
                    names->str);
    g_string_free(names, TRUE);
}

void fuzz_machine_check_save_load(struct fuzz_machine *fm)
{
    GBytes *first = machine_save_state(fm->m), *second;
    GError *err = NULL;
    gsize len;
    const uint8_t *data = g_bytes_get_data(first, &len);

    if (!machine_load_state(fm->m, data, len, &err)) {
        fuzz_fail("the machine refuses the state it just saved: %s", err->message);
    }
    second = machine_save_state(fm->m);
    if (!g_bytes_equal(first, second)) {
        report_stream_change(first, second);
    }
    g_bytes_unref(first);
    g_bytes_unref(second);
    fuzz_machine_check_lines(fm);
}

/* ---- serving one synchronous request the way accel/xen does ---- */

static void check_served_slot(const struct xenabi_ioreq *before, const struct xenabi_ioreq *after)
{
    uint8_t flags = before->flags;
    bool answers = xenabi_ioreq_is_read(flags) && !xenabi_ioreq_data_is_ptr(flags);

    FUZZ_CHECK(xenabi_ioreq_state(after->flags) == XENABI_STATE_IORESP_READY,
               "slot state %u after service", xenabi_ioreq_state(after->flags));
    FUZZ_CHECK((after->flags & ~XENABI_IOREQ_STATE_MASK) == (flags & ~XENABI_IOREQ_STATE_MASK),
               "the device model changed the request's flags");
    FUZZ_CHECK(after->addr == before->addr && after->count == before->count &&
               after->size == before->size && after->type == before->type &&
               after->vp_eport == before->vp_eport && after->pad0 == before->pad0,
               "the device model wrote a field of the slot other than data and state");
    if (!answers) {
        FUZZ_CHECK(after->data == before->data, "data changed for a write or a REP access");
    } else if (after->size == 1 || after->size == 2 || after->size == 4 || after->size == 8) {
        FUZZ_CHECK((after->data & ~all_ones(after->size)) == 0,
                   "type %u read of size %u answered 0x%" G_GINT64_MODIFIER "x", after->type,
                   after->size, after->data);
    }
}

/* Serves req through the slot (state set READY); ring: drain the buffered page first. */
static void serve(struct fuzz_machine *fm, struct xenabi_ioreq req, bool ring)
{
    struct xenabi_ioreq before;

    req.vp_eport = FUZZ_VP_EPORT;
    req.flags = xenabi_ioreq_with_state(req.flags, XENABI_STATE_IOREQ_READY);
    before = req;
    fm->slot = req;
    FUZZ_CHECK(ioreq_service_slot(fm->m, &fm->slot, ring ? fm->buf_page : NULL, &fm->stats),
               "a READY slot was not served");
    check_served_slot(&before, &fm->slot);
}

/* A slot exactly as the input has it: served if READY, else left alone (a spurious event). */
static void serve_raw(struct fuzz_machine *fm, const struct xenabi_ioreq *req)
{
    bool ready = xenabi_ioreq_state(req->flags) == XENABI_STATE_IOREQ_READY;

    fm->slot = *req;
    FUZZ_CHECK(ioreq_service_slot(fm->m, &fm->slot, fm->buf_page, &fm->stats) == ready,
               "slot in state %u served: %d", xenabi_ioreq_state(req->flags), !ready);
    if (ready) {
        check_served_slot(req, &fm->slot);
    } else {
        FUZZ_CHECK(memcmp(&fm->slot, req, sizeof(*req)) == 0, "a slot not READY was touched");
    }
}

uint64_t fuzz_machine_request(struct fuzz_machine *fm, unsigned type, bool read, unsigned size,
                              uint64_t addr, uint64_t value, uint32_t count, bool data_is_ptr)
{
    struct xenabi_ioreq req = {0};

    req.type = (uint8_t)type;
    req.size = size;
    req.count = count;
    req.addr = addr;
    req.data = value;
    req.flags = (uint8_t)((read ? XENABI_IOREQ_DIR_READ : 0) |
                          (data_is_ptr ? XENABI_IOREQ_DATA_IS_PTR : 0));
    serve(fm, req, false);
    return fm->slot.data;
}

bool fuzz_gpa_is_ram(uint64_t gpa)
{
    return gfn_is_ram(gpa / PAGE);
}

/* ---- the program reader ---- */


static unsigned mode_size(uint8_t mode)
{
    return 1u << ((mode >> 2) & 3u);
}

static struct xenabi_ioreq make_req(unsigned type, uint8_t mode, bool ptr)
{
    struct xenabi_ioreq req = {0};

    req.type = (uint8_t)type;
    req.size = mode_size(mode);
    req.count = 1;
    req.flags = (uint8_t)(((mode & FUZZ_F_READ) ? XENABI_IOREQ_DIR_READ : 0) |
                          ((mode & FUZZ_F_DF) ? XENABI_IOREQ_DF : 0) |
                          (ptr ? XENABI_IOREQ_DATA_IS_PTR : 0));
    return req;
}

static void step_pio(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    struct xenabi_ioreq req = make_req(XENABI_IOREQ_TYPE_PIO, (uint8_t)fuzz_take(c, 1), false);

    req.addr = fuzz_take(c, 2);
    req.data = fuzz_take(c, 4);
    serve(fm, req, false);
}

/* REP INS/OUTS and REP MOVS/STOS: mode, address (addr_width bytes), count, buffer gpa. */
static void step_rep(struct fuzz_machine *fm, struct fuzz_cursor *c, unsigned type, unsigned addr_width)
{
    struct xenabi_ioreq req = make_req(type, (uint8_t)fuzz_take(c, 1), true);

    req.addr = fuzz_take(c, addr_width);
    req.count = (uint32_t)fuzz_take(c, 2);
    req.data = fuzz_take(c, 4);
    serve(fm, req, false);
}

static void step_mmio(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    struct xenabi_ioreq req = make_req(XENABI_IOREQ_TYPE_COPY, (uint8_t)fuzz_take(c, 1), false);

    req.addr = fuzz_take(c, 8);
    req.data = fuzz_take(c, 8);
    req.count = (uint32_t)fuzz_take(c, 2);
    serve(fm, req, false);
}

static void step_pci(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    struct xenabi_ioreq req = make_req(XENABI_IOREQ_TYPE_PCI_CONFIG, (uint8_t)fuzz_take(c, 1), false);
    uint64_t sbdf = fuzz_take(c, 4);

    req.addr = sbdf << 32 | fuzz_take(c, 2);
    req.data = fuzz_take(c, 4);
    serve(fm, req, false);
}

static void ring_put(struct xenabi_buffered_iopage *page, uint32_t index, uint32_t word,
                     uint32_t data)
{
    page->slot[index % XENABI_IOREQ_BUFFER_SLOT_NUM].word = word;
    page->slot[index % XENABI_IOREQ_BUFFER_SLOT_NUM].data = data;
}

/* The harness is Xen's producer here: entries go in at the write pointer. */
static void step_buffered(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    struct xenabi_buffered_iopage *page = fm->buf_page;
    unsigned n = (unsigned)fuzz_take(c, 1), how = (unsigned)fuzz_take(c, 1);
    uint32_t w = page->write_pointer;
    int drained = 0;

    for (unsigned i = 0; i < n; i++) {
        uint32_t word = (uint32_t)fuzz_take(c, 4), data = (uint32_t)fuzz_take(c, 4);
        ring_put(page, w++, word, data);
    }
    if (how & 1) {
        page->read_pointer = (uint32_t)fuzz_take(c, 4);
        page->write_pointer = (uint32_t)fuzz_take(c, 4);
    } else {
        page->write_pointer = w;
    }
    if (how & 2) {
        /* A sync read of an unclaimed port: Xen's order is ring first, then the request. */
        struct xenabi_ioreq req = make_req(XENABI_IOREQ_TYPE_PIO, FUZZ_F_READ, false);
        req.addr = 0x80;
        serve(fm, req, true);
    } else {
        drained = ioreq_drain_buffered(fm->m, page, &fm->stats);
        FUZZ_CHECK(drained >= -1, "drain returned %d", drained);
    }
    if (!(how & 1) && drained >= 0 && !(how & 2)) {
        FUZZ_CHECK(page->read_pointer == page->write_pointer,
                   "a well-formed ring was left with %u entries",
                   page->write_pointer - page->read_pointer);
    }
    /* As after Xen's next rebase: an empty ring, whatever this step left. */
    page->read_pointer = page->write_pointer = 0;
}

static void step_raw(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    struct xenabi_ioreq req;
    uint8_t bytes[sizeof(req)];

    for (size_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (uint8_t)fuzz_take(c, 1);
    }
    memcpy(&req, bytes, sizeof(req));
    serve_raw(fm, &req);
}

static void step_ram(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    uint32_t gpa = (uint32_t)fuzz_take(c, 4) % FUZZ_RAM_SIZE;
    unsigned len = (unsigned)fuzz_take(c, 1);

    for (unsigned i = 0; i < len; i++, gpa = (gpa + 1) % FUZZ_RAM_SIZE) {
        uint8_t byte = (uint8_t)fuzz_take(c, 1);
        if (gfn_is_ram(gpa / PAGE)) {
            fm->ram[gpa] = byte;
        }
    }
}

/* The host side of a UART: what a person types on its pty, through the chardev frontend. */
static void step_host_input(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    char id[16];
    struct chardev *chr;
    uint8_t bytes[UINT8_MAX];
    unsigned len, done = 0;

    snprintf(id, sizeof(id), "serial%u", (unsigned)(fuzz_take(c, 1) % XENDM_MAX_SERIALS));
    len = (unsigned)fuzz_take(c, 1);
    for (unsigned i = 0; i < len; i++) {
        bytes[i] = (uint8_t)fuzz_take(c, 1);
    }
    chr = machine_find_chardev(fm->m, id);
    while (chr != NULL && chr->has_frontend && done < len) {
        size_t room = chr->frontend.can_receive(chr->frontend.opaque);
        size_t n = MIN(room, (size_t)(len - done));
        if (n == 0) {
            break; /* the FIFO is full: the chardev stops reading, the rest waits in the pty */
        }
        chr->frontend.receive(chr->frontend.opaque, bytes + done, n);
        done += (unsigned)n;
    }
}

/* An access relative to where a BAR decodes now: MMIO or port I/O by the BAR's kind. */
static void step_bar(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    uint8_t mode = (uint8_t)fuzz_take(c, 1);
    unsigned devfn = (unsigned)fuzz_take(c, 1), bar = (unsigned)fuzz_take(c, 1) % PCI_NUM_BARS;
    uint64_t offset = fuzz_take(c, 4), value = fuzz_take(c, 8);
    uint32_t count = (uint32_t)fuzz_take(c, 2);
    struct pci_bus *bus = machine_pci_bus(fm->m);
    struct pci_device *d = bus != NULL ? pci_bus_find(bus, devfn) : NULL;
    uint64_t base = d != NULL ? pci_bar_address(d, bar) : PCI_BAR_UNMAPPED;
    struct xenabi_ioreq req;

    if (base == PCI_BAR_UNMAPPED) {
        return;
    }
    req = make_req((d->bars[bar].kind & PCI_BAR_IO) ? XENABI_IOREQ_TYPE_PIO
                                                      : XENABI_IOREQ_TYPE_COPY, mode, false);
    req.addr = base + offset;
    req.data = value;
    req.count = count;
    serve(fm, req, false);
}

static void step_timers(struct fuzz_machine *fm)
{
    /* A block completion is a main-context source too: run those first, at a fixed point. */
    fuzz_machine_drain(fm);
    for (unsigned i = 0; i < FUZZ_TIMER_ROUNDS; i++) {
        if (!g_main_context_iteration(NULL, FALSE)) {
            break;
        }
    }
}

static void run_step(struct fuzz_machine *fm, enum fuzz_op op, struct fuzz_cursor *c)
{
    switch (op) {
    case FUZZ_OP_PIO: step_pio(fm, c); break;
    case FUZZ_OP_PIO_REP: step_rep(fm, c, XENABI_IOREQ_TYPE_PIO, 2); break;
    case FUZZ_OP_MMIO: step_mmio(fm, c); break;
    case FUZZ_OP_MMIO_REP: step_rep(fm, c, XENABI_IOREQ_TYPE_COPY, 8); break;
    case FUZZ_OP_PCI: step_pci(fm, c); break;
    case FUZZ_OP_BUFFERED: step_buffered(fm, c); break;
    case FUZZ_OP_TIMEOFFSET: {
        struct xenabi_ioreq req = make_req(XENABI_IOREQ_TYPE_TIMEOFFSET, 0, false);
        req.data = fuzz_take(c, 8);
        serve(fm, req, false);
        break;
    }
    case FUZZ_OP_INVALIDATE:
        serve(fm, make_req(XENABI_IOREQ_TYPE_INVALIDATE, 0, false), false);
        break;
    case FUZZ_OP_RAW: step_raw(fm, c); break;
    case FUZZ_OP_RAM: step_ram(fm, c); break;
    case FUZZ_OP_SAVE_LOAD:
        /* A round trip costs what hundreds of requests do: a few per input are plenty. */
        if (fm->save_loads++ < FUZZ_MAX_SAVE_LOADS) {
            fuzz_machine_check_save_load(fm);
        }
        break;
    case FUZZ_OP_RESET: machine_reset(fm->m); break;
    case FUZZ_OP_TIMERS: step_timers(fm); break;
    case FUZZ_OP_HOST_INPUT: step_host_input(fm, c); break;
    case FUZZ_OP_BAR: step_bar(fm, c); break;
    case FUZZ_OP_MEDIUM: {
        unsigned which = (unsigned)fuzz_take(c, 1);
        fuzz_machine_medium(fm, which, (unsigned)fuzz_take(c, 1));
        break;
    }
    case FUZZ_OP_COUNT: break;
    }
}

void fuzz_machine_run(struct fuzz_machine *fm, const uint8_t *prog, size_t len)
{
    struct fuzz_cursor c = {prog, len};

    while (c.left > 0) {
        enum fuzz_op op = (enum fuzz_op)(fuzz_take(&c, 1) % FUZZ_OP_COUNT);

        run_step(fm, op, &c);
        if (!fm->manual_drain) {
            fuzz_machine_drain(fm);
        }
        fuzz_machine_check_lines(fm);
        fuzz_machine_check_ide(fm, fuzz_machine_in_flight(fm) == 0);
        check_mapcache(fm, op == FUZZ_OP_RESET);
    }
}

/* ---- a fixed read of every device register ---- */

struct probe_range {
    uint16_t base, len;
};

static const struct probe_range probe_ports[] = {
    {0x3f8, 8}, {0x2f8, 8}, {0x3e8, 8}, {0x2e8, 8}, /* COM1-4 */
    {0x60, 1}, {0x64, 1}, {0x92, 1}, {0x402, 1},    /* i8042, port92, debugcon */
    {0xe0, 12}, {0x2000, 24},                       /* pc-testdev */
    {0x10, 16},                                     /* xen-platform's fixed ports */
    {0xcf8, 8},                                     /* CONFADD, 0xCF9, CONFDATA */
    {0xafe0, 4}, {0xae00, 12}, {0xaf00, 32},        /* GPE0, PCI hotplug, CPU bitmap */
    {0xb100, 16},                                   /* the SMBus host at its reset SMBBA */
    {0x3b0, 48}, {0x1ce, 3},                        /* VGA, VBE DISPI */
};

void fuzz_machine_probe(struct fuzz_machine *fm)
{
    for (size_t i = 0; i < G_N_ELEMENTS(probe_ports); i++) {
        for (uint16_t off = 0; off < probe_ports[i].len; off++) {
            struct xenabi_ioreq req = make_req(XENABI_IOREQ_TYPE_PIO, FUZZ_F_READ, false);
            req.addr = probe_ports[i].base + off;
            serve(fm, req, false);
        }
    }
    fuzz_machine_check_lines(fm);
}

/* ---- encoders ---- */

static void put(GByteArray *out, uint64_t value, unsigned width)
{
    for (unsigned i = 0; i < width; i++) {
        uint8_t byte = (uint8_t)(value >> (8 * i));
        g_byte_array_append(out, &byte, 1);
    }
}

static uint8_t encode_mode(unsigned flags, unsigned size)
{
    unsigned code = size == 8 ? 3 : size == 4 ? 2 : size == 2 ? 1 : 0;
    return (uint8_t)((flags & (FUZZ_F_READ | FUZZ_F_DF)) | code << 2);
}

void fuzz_emit_pio(GByteArray *out, bool read, unsigned size, uint16_t port, uint32_t value)
{
    put(out, FUZZ_OP_PIO, 1);
    put(out, encode_mode(read ? FUZZ_F_READ : 0, size), 1);
    put(out, port, 2);
    put(out, value, 4);
}

/* The encoding step_rep() reads. */
static void emit_rep(GByteArray *out, enum fuzz_op op, unsigned flags, unsigned size,
                     uint64_t addr, unsigned addr_width, uint16_t count, uint32_t gpa)
{
    put(out, op, 1);
    put(out, encode_mode(flags, size), 1);
    put(out, addr, addr_width);
    put(out, count, 2);
    put(out, gpa, 4);
}

void fuzz_emit_pio_rep(GByteArray *out, unsigned flags, unsigned size, uint16_t port,
                       uint16_t count, uint32_t gpa)
{
    emit_rep(out, FUZZ_OP_PIO_REP, flags, size, port, 2, count, gpa);
}

void fuzz_emit_mmio(GByteArray *out, bool read, unsigned size, uint64_t addr, uint64_t value,
                    uint16_t count)
{
    put(out, FUZZ_OP_MMIO, 1);
    put(out, encode_mode(read ? FUZZ_F_READ : 0, size), 1);
    put(out, addr, 8);
    put(out, value, 8);
    put(out, count, 2);
}

void fuzz_emit_mmio_rep(GByteArray *out, unsigned flags, unsigned size, uint64_t addr,
                        uint16_t count, uint32_t gpa)
{
    emit_rep(out, FUZZ_OP_MMIO_REP, flags, size, addr, 8, count, gpa);
}

void fuzz_emit_pci(GByteArray *out, bool read, unsigned size, uint32_t sbdf, uint16_t reg,
                   uint32_t value)
{
    put(out, FUZZ_OP_PCI, 1);
    put(out, encode_mode(read ? FUZZ_F_READ : 0, size), 1);
    put(out, sbdf, 4);
    put(out, reg, 2);
    put(out, value, 4);
}

void fuzz_emit_buffered(GByteArray *out, const struct fuzz_buf_entry *entries, unsigned n)
{
    unsigned slots = 0;

    for (unsigned i = 0; i < n; i++) {
        slots += entries[i].size == 8 ? 2 : 1;
    }
    put(out, FUZZ_OP_BUFFERED, 1);
    put(out, slots, 1);
    put(out, 2, 1); /* drained ahead of a sync request, as Xen orders them */
    for (unsigned i = 0; i < n; i++) {
        const struct fuzz_buf_entry *e = &entries[i];
        uint32_t word = xenabi_buf_encode(e->type, false, e->size, e->addr);
        put(out, word, 4);
        put(out, (uint32_t)e->value, 4);
        if (e->size == 8) {
            /* The high half follows in the next slot (reference §1.6). */
            put(out, word, 4);
            put(out, (uint32_t)(e->value >> 32), 4);
        }
    }
}

void fuzz_emit_timeoffset(GByteArray *out, int64_t delta)
{
    put(out, FUZZ_OP_TIMEOFFSET, 1);
    put(out, (uint64_t)delta, 8);
}

void fuzz_emit_simple(GByteArray *out, enum fuzz_op op)
{
    put(out, op, 1);
}

void fuzz_emit_ram(GByteArray *out, uint32_t gpa, const void *bytes, uint8_t len)
{
    put(out, FUZZ_OP_RAM, 1);
    put(out, gpa, 4);
    put(out, len, 1);
    g_byte_array_append(out, bytes, len);
}

void fuzz_emit_raw(GByteArray *out, const struct xenabi_ioreq *req)
{
    put(out, FUZZ_OP_RAW, 1);
    g_byte_array_append(out, (const uint8_t *)req, sizeof(*req));
}

void fuzz_emit_bar(GByteArray *out, bool read, unsigned size, uint8_t devfn, uint8_t bar,
                   uint32_t offset, uint64_t value, uint16_t count)
{
    put(out, FUZZ_OP_BAR, 1);
    put(out, encode_mode(read ? FUZZ_F_READ : 0, size), 1);
    put(out, devfn, 1);
    put(out, bar, 1);
    put(out, offset, 4);
    put(out, value, 8);
    put(out, count, 2);
}

void fuzz_emit_medium(GByteArray *out, uint8_t which, uint8_t action)
{
    put(out, FUZZ_OP_MEDIUM, 1);
    put(out, which, 1);
    put(out, action, 1);
}

void fuzz_emit_host_input(GByteArray *out, uint8_t serial, const void *bytes, uint8_t len)
{
    put(out, FUZZ_OP_HOST_INPUT, 1);
    put(out, serial, 1);
    put(out, len, 1);
    g_byte_array_append(out, bytes, len);
}
