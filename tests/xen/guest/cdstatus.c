/*
 * cdstatus: the IDE guest's view of a CD-ROM drive's tray and medium, as Linux reports it.
 *
 *     cdstatus DEVICE       prints one of: no_info no_disc tray_open drive_not_ready disc_ok
 *
 * Built by mkguest.py into the guest's initramfs (busybox has no such applet): x86-64 Linux,
 * freestanding (-nostdlib, raw system calls), a few KiB, since SeaBIOS reads the initramfs by
 * PIO and a static libc would add half a megabyte to every IDE boot.
 *
 * It opens the drive with O_NONBLOCK, which the cdrom layer (drivers/cdrom/cdrom.c) takes as an
 * open for ioctls only: no medium is needed, the tray is not closed (autoclose applies to opens
 * for data) and the door is not locked, so a polling guest never makes the device model refuse
 * a toolstack's eject. CDROM_DRIVE_STATUS is answered by sr_drive_status: TEST UNIT READY, then
 * GET EVENT STATUS NOTIFICATION's media event (MMC-6 §6.7.2.4: door open, medium present).
 */
#include <asm/unistd.h>
#include <fcntl.h>
#include <linux/cdrom.h>

#define CDSL_CURRENT_SLOT 0x7fffffff /* CDSL_CURRENT is INT_MAX, from <limits.h> */

static long syscall3(long nr, long a, long b, long c)
{
    long ret;

    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

static unsigned long length(const char *s)
{
    unsigned long n = 0;

    while (s[n] != '\0') {
        n++;
    }
    return n;
}

static void put(int fd, const char *s)
{
    syscall3(__NR_write, fd, (long)s, (long)length(s));
}

static const char *status_name(long status)
{
    switch (status) {
    case CDS_NO_INFO:
        return "no_info\n";
    case CDS_NO_DISC:
        return "no_disc\n";
    case CDS_TRAY_OPEN:
        return "tray_open\n";
    case CDS_DRIVE_NOT_READY:
        return "drive_not_ready\n";
    case CDS_DISC_OK:
        return "disc_ok\n";
    default:
        return "unknown\n";
    }
}

static int cdstatus(int argc, char **argv)
{
    long fd, status;

    if (argc != 2) {
        put(2, "usage: cdstatus DEVICE\n");
        return 2;
    }
    fd = syscall3(__NR_open, (long)argv[1], O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0) {
        put(2, "cdstatus: cannot open the device\n");
        return 1;
    }
    status = syscall3(__NR_ioctl, fd, CDROM_DRIVE_STATUS, CDSL_CURRENT_SLOT);
    syscall3(__NR_close, fd, 0, 0);
    if (status < 0) {
        put(2, "cdstatus: CDROM_DRIVE_STATUS failed\n");
        return 1;
    }
    put(1, status_name(status));
    return 0;
}

/* The kernel enters here with argc at the stack pointer, argv after it (x86-64 psABI §3.4.1). */
void cdstatus_main(long *stack) __attribute__((noreturn, used));
void cdstatus_main(long *stack)
{
    int rc = cdstatus((int)stack[0], (char **)(stack + 1));

    for (;;) {
        syscall3(__NR_exit, rc, 0, 0);
    }
}

__asm__(".globl _start\n"
        "_start:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call cdstatus_main\n");
