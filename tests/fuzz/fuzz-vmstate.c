/*
 * fuzz-vmstate: the saved-state loader (system/vmstate.c through machine_load_state) fed
 * arbitrary bytes, on a machine with a chosen set of devices.
 *
 * Input: flags u8 | stream length u32 (LE, clipped to what is there) | stream | program
 *   flags bit 0: pc-testdev; bits 1-2: serial ports (0-3); bit 3: isa-debugcon;
 *   bit 4: the harness rewrites the stream's SHA-256 trailer, so that mutations reach the
 *          parser and the range checks behind the checksum instead of dying at it;
 *   bit 5: the three xendm-testdev functions (fuzz-machine.h), so that the program can drive
 *          MSI, MSI-X and INTx on whatever the load left (the chipset is always there);
 *   bit 6: the IDE drives (fuzz-machine.h), so that the piix3-ide section's transfer state
 *          (buffer indexes, PRD walk, ATAPI packet, sense) meets real backends: a stream
 *          saved mid-transfer goes on from where it stopped.
 *   program: an ioreq program (fuzz-machine.c) run on whatever state the load left.
 *
 * After an accepted load the fake accelerator takes its INTx levels and link routes from the
 * machine, as Xen restores its own records from the same image; everything after is checked.
 *
 * Checked: all or nothing. A refused stream leaves every device as it was (the machine saves
 * the same bytes as before) and makes no call to the accelerator; an accepted one saves, loads
 * and saves again to the same bytes, and the guest can then touch every register without a
 * sanitizer report: a loaded index or count the device trusts is in range.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz-machine.h"
#include "fuzz-target.h"
#include "xendm/vmstate.h"

#define FLAG_TESTDEV 0x01u
#define FLAG_SERIAL_SHIFT 1
#define FLAG_DEBUGCON 0x08u
#define FLAG_FIX_DIGEST 0x10u
#define FLAG_PCI_TESTDEVS 0x20u
#define FLAG_DRIVES 0x40u

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

static void fix_digest(uint8_t *stream, size_t len)
{
    GChecksum *sum;
    gsize digest_len = VMSTATE_DIGEST_LEN;

    if (len < VMSTATE_DIGEST_LEN) {
        return;
    }
    sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, stream, len - VMSTATE_DIGEST_LEN);
    g_checksum_get_digest(sum, stream + len - VMSTATE_DIGEST_LEN, &digest_len);
    g_checksum_free(sum);
}

/* The stream parser alone must agree with the loader: what it refuses, the machine refuses. */
static bool stream_parses(const uint8_t *stream, size_t len)
{
    GError *err = NULL;
    struct vmstate_stream *s = vmstate_stream_parse(stream, len, &err);

    if (s == NULL) {
        FUZZ_CHECK(err != NULL, "vmstate_stream_parse failed without an error");
        g_error_free(err);
        return false;
    }
    FUZZ_CHECK(err == NULL, "vmstate_stream_parse succeeded with an error set");
    vmstate_stream_free(s);
    return true;
}

static void load_refused(struct fuzz_machine *fm, GBytes *before, uint64_t calls_before,
                         GError *err)
{
    GBytes *after;

    FUZZ_CHECK(err != NULL && err->message != NULL && err->message[0] != '\0',
               "a refused load gave no reason");
    FUZZ_CHECK(fm->accel.calls == calls_before, "a refused load called the accelerator");
    if (g_getenv("FUZZ_VERBOSE") != NULL) {
        fprintf(stderr, "fuzz-vmstate: stream refused: %s\n", err->message);
    }
    after = machine_save_state(fm->m);
    FUZZ_CHECK(g_bytes_equal(before, after), "a refused load changed device state: %s",
               err->message);
    g_bytes_unref(after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_machine_config cfg = {0};
    struct fuzz_machine *fm;
    uint8_t flags = size > 0 ? data[0] : 0;
    size_t len = 0, pos = size > 0 ? 1 : 0;
    uint8_t *stream;
    GBytes *before;
    GError *err = NULL;
    uint64_t calls_before;
    bool parsed;

    for (unsigned i = 0; i < 4 && pos < size; i++, pos++) {
        len |= (size_t)data[pos] << (8 * i);
    }
    len = MIN(len, size - pos);
    stream = g_memdup2(data + pos, len);
    pos += len;
    if (flags & FLAG_FIX_DIGEST) {
        fix_digest(stream, len);
    }
    cfg.testdev = flags & FLAG_TESTDEV;
    cfg.serials = (flags >> FLAG_SERIAL_SHIFT) & 3u;
    cfg.debugcon = flags & FLAG_DEBUGCON;
    cfg.pci_testdevs = flags & FLAG_PCI_TESTDEVS;
    cfg.drives = flags & FLAG_DRIVES;
    fm = fuzz_machine_new(&cfg);

    parsed = stream_parses(stream, len);
    before = machine_save_state(fm->m);
    calls_before = fm->accel.calls;
    if (machine_load_state(fm->m, stream, len, &err)) {
        FUZZ_CHECK(parsed, "the machine loaded a stream the parser refuses");
        fuzz_machine_adopt_loaded_state(fm);
        fuzz_machine_check_lines(fm);
        fuzz_machine_check_save_load(fm);
        fuzz_machine_probe(fm);
        fuzz_machine_run(fm, data + pos, size - pos);
        fuzz_machine_check_save_load(fm);
    } else {
        load_refused(fm, before, calls_before, err);
        g_error_free(err);
    }
    g_bytes_unref(before);
    g_free(stream);
    fuzz_machine_free(fm);
    return 0;
}
