/*
 * xendm-testfw entry: 32-bit protected mode, paging off, interrupts off, as libxc enters
 * hvmloader (and as a Multiboot loader enters a kernel). Loads our own flat GDT, clears .bss,
 * sets the stack and calls fw_main(boot_magic). Also: the 32 exception stubs and a minimal
 * setjmp/longjmp, so that a check that faults is reported and the run goes on.
 */
#define MULTIBOOT_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0 /* ELF image: the loader uses the program headers */
#define CODE_SEL 0x08
#define DATA_SEL 0x10
#define STACK_SIZE 0x4000

    .section .multiboot, "a"
    .balign 4
    /* Multiboot 1 header: must sit 4-byte aligned in the first 8 KiB of the image. */
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

    .text
    .code32
    .globl _start
_start:
    cli
    cld
    movl %eax, %ebp                 /* 0x2BADB002 from a Multiboot loader; anything on Xen */
    lgdt gdt_descriptor
    ljmp $CODE_SEL, $1f
1:  movw $DATA_SEL, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    /* libxc zeroes .bss as part of the ELF load, a Multiboot loader too: do not rely on it. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    movl $stack_top, %esp
    pushl %ebp
    call fw_main
    .globl fw_halt
fw_halt:
    cli
    hlt
    jmp fw_halt

/* ---- exceptions: push a dummy error code where the CPU pushes none, then the vector ---- */

.macro exc_stub vec
exc_stub_\vec:
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || \
        (\vec == 29) || (\vec == 30)
    .else
    pushl $0
    .endif
    pushl $\vec
    jmp exc_common
.endm

.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    exc_stub \vec
.endr

exc_common:
    pushal
    pushl %esp                      /* struct exc_frame * */
    cld
    call fw_exception               /* longjmps to the armed check, or ends the run */
    jmp fw_halt

    .section .rodata
    .balign 4
    .globl fw_exception_stubs
fw_exception_stubs:
.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long exc_stub_\vec
.endr

/* ---- device interrupts: count, EOI the local APIC (not for the spurious vector), return ---- */

#define LAPIC_EOI_REG 0xfee000b0

.macro irq_stub n, eoi
fw_irq_stub_\n:
    pushl %eax
    lock incl fw_irq_counts + 4 * \n
    .if \eoi
    movl $0, LAPIC_EOI_REG
    .endif
    popl %eax
    iret
.endm

    irq_stub 0, 1
    irq_stub 1, 1
    irq_stub 2, 0

    .section .rodata
    .balign 4
    .globl fw_irq_stubs
fw_irq_stubs:
    .long fw_irq_stub_0, fw_irq_stub_1, fw_irq_stub_2

    .bss
    .balign 4
    .globl fw_irq_counts
fw_irq_counts:
    .skip 4 * 3

/* ---- int fw_setjmp(struct fw_jmpbuf *), void fw_longjmp(struct fw_jmpbuf *, int) ---- */

    .text
    .globl fw_setjmp
fw_setjmp:
    movl 4(%esp), %eax
    movl %ebx, 0(%eax)
    movl %esi, 4(%eax)
    movl %edi, 8(%eax)
    movl %ebp, 12(%eax)
    leal 4(%esp), %ecx              /* the stack pointer after our return */
    movl %ecx, 16(%eax)
    movl (%esp), %ecx
    movl %ecx, 20(%eax)
    xorl %eax, %eax
    ret

    .globl fw_longjmp
fw_longjmp:
    movl 4(%esp), %edx
    movl 8(%esp), %eax
    movl 0(%edx), %ebx
    movl 4(%edx), %esi
    movl 8(%edx), %edi
    movl 12(%edx), %ebp
    movl 16(%edx), %esp
    cld                             /* the fault may have hit inside an STD section */
    jmp *20(%edx)

    .section .rodata
    .balign 8
gdt:
    .quad 0                         /* null */
    .quad 0x00cf9a000000ffff        /* 0x08: code, base 0, limit 4 GiB, 32-bit */
    .quad 0x00cf92000000ffff        /* 0x10: data, base 0, limit 4 GiB */
gdt_end:
gdt_descriptor:
    .word gdt_end - gdt - 1
    .long gdt

    .bss
    .balign 16
stack_bottom:
    .skip STACK_SIZE
stack_top:

    .section .note.GNU-stack, "", @progbits
