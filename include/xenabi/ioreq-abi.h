/*
 * The ioreq ABI of Xen 4.17 (xen/hvm/ioreq.h), decoded with explicit shifts and
 * masks rather than C bitfields so the layout never depends on the compiler.
 * Shared by xendm (consumer) and xensim (producer).
 *
 * struct ioreq, 32 bytes; the shared page holds one per vCPU (128 per page):
 *   @0  u64 addr      port, guest-physical address, or (SBDF << 32 | reg)
 *   @8  u64 data      value (low `size` bytes) or, with data_is_ptr, a gpa
 *   @16 u32 count     repetitions
 *   @20 u32 size      bytes per item
 *   @24 u32 vp_eport  the vCPU's event channel (Xen writes it; never write it)
 *   @28 u16 pad
 *   @30 u8  bits 0-3 state, 4 data_is_ptr, 5 dir (1 = read), 6 df, 7 pad
 *   @31 u8  type
 */
#ifndef XENABI_IOREQ_ABI_H
#define XENABI_IOREQ_ABI_H

#include <stdbool.h>
#include <stdint.h>

#define XENABI_PAGE_SIZE 4096u
#define XENABI_PAGE_SHIFT 12

#define XENABI_IOREQ_WRITE 0
#define XENABI_IOREQ_READ 1

#define XENABI_STATE_IOREQ_NONE 0
#define XENABI_STATE_IOREQ_READY 1
#define XENABI_STATE_IOREQ_INPROCESS 2
#define XENABI_STATE_IORESP_READY 3

#define XENABI_IOREQ_TYPE_PIO 0
#define XENABI_IOREQ_TYPE_COPY 1
#define XENABI_IOREQ_TYPE_PCI_CONFIG 2
#define XENABI_IOREQ_TYPE_TIMEOFFSET 7
#define XENABI_IOREQ_TYPE_INVALIDATE 8

#define XENABI_BUFIOREQ_OFF 0
#define XENABI_BUFIOREQ_LEGACY 1
#define XENABI_BUFIOREQ_ATOMIC 2

#define XENABI_IOREQ_BUFFER_SLOT_NUM 511
#define XENABI_IOREQS_PER_PAGE (XENABI_PAGE_SIZE / 32)

struct xenabi_ioreq {
    uint64_t addr;
    uint64_t data;
    uint32_t count;
    uint32_t size;
    uint32_t vp_eport;
    uint16_t pad0;
    uint8_t flags; /* state | data_is_ptr | dir | df, see the accessors */
    uint8_t type;
};
_Static_assert(sizeof(struct xenabi_ioreq) == 32, "ioreq is 32 bytes");

#define XENABI_IOREQ_STATE_MASK 0x0fu
#define XENABI_IOREQ_DATA_IS_PTR 0x10u
#define XENABI_IOREQ_DIR_READ 0x20u
#define XENABI_IOREQ_DF 0x40u

static inline unsigned xenabi_ioreq_state(uint8_t flags) { return flags & XENABI_IOREQ_STATE_MASK; }
static inline bool xenabi_ioreq_data_is_ptr(uint8_t flags) { return flags & XENABI_IOREQ_DATA_IS_PTR; }
static inline bool xenabi_ioreq_is_read(uint8_t flags) { return flags & XENABI_IOREQ_DIR_READ; }
static inline bool xenabi_ioreq_df(uint8_t flags) { return flags & XENABI_IOREQ_DF; }
static inline uint8_t xenabi_ioreq_with_state(uint8_t flags, unsigned state)
{
    return (uint8_t)((flags & ~XENABI_IOREQ_STATE_MASK) | (state & XENABI_IOREQ_STATE_MASK));
}

/* The state byte is the synchronisation point: read it with acquire, publish it with release. */
static inline uint8_t xenabi_ioreq_load_flags(const struct xenabi_ioreq *slot)
{
    return __atomic_load_n(&slot->flags, __ATOMIC_ACQUIRE);
}
static inline void xenabi_ioreq_store_flags(struct xenabi_ioreq *slot, uint8_t flags)
{
    __atomic_store_n(&slot->flags, flags, __ATOMIC_RELEASE);
}

/*
 * buf_ioreq, 8 bytes: bits 0-7 type, 8 pad, 9 dir, 10-11 size code (0 => 1,
 * 1 => 2, 2 => 4, 3 => 8 bytes, the last in two consecutive slots: low half
 * first), 12-31 addr (20 bits); bytes 4-7 u32 data.
 */
struct xenabi_buf_ioreq {
    uint32_t word; /* type | dir | size | addr */
    uint32_t data;
};
_Static_assert(sizeof(struct xenabi_buf_ioreq) == 8, "buf_ioreq is 8 bytes");

static inline unsigned xenabi_buf_type(uint32_t w) { return w & 0xffu; }
static inline bool xenabi_buf_is_read(uint32_t w) { return (w >> 9) & 1u; }
static inline unsigned xenabi_buf_size(uint32_t w) { return 1u << ((w >> 10) & 3u); }
static inline uint32_t xenabi_buf_addr(uint32_t w) { return w >> 12; }
static inline uint32_t xenabi_buf_encode(unsigned type, bool read, unsigned size, uint32_t addr)
{
    unsigned code = size == 8 ? 3 : size == 4 ? 2 : size == 2 ? 1 : 0;
    return (type & 0xffu) | ((read ? 1u : 0u) << 9) | (code << 10) | ((addr & 0xfffffu) << 12);
}

struct xenabi_buffered_iopage {
    uint32_t read_pointer;
    uint32_t write_pointer;
    struct xenabi_buf_ioreq slot[XENABI_IOREQ_BUFFER_SLOT_NUM];
};
_Static_assert(sizeof(struct xenabi_buffered_iopage) <= XENABI_PAGE_SIZE, "fits a page");

/* PCI_CONFIG: addr = (SBDF << 32) | register; SBDF = seg << 16 | bus << 8 | dev << 3 | fn. */
static inline uint32_t xenabi_pci_sbdf(uint64_t addr) { return (uint32_t)(addr >> 32); }
static inline uint32_t xenabi_pci_reg(uint64_t addr) { return (uint32_t)addr; }

#endif
