/*
 * The PCI core's part of the saved device state (include/xendm/vmstate.h): for each function
 * a "pci-function" section (instance id = devfn) with its configuration space and INTx
 * levels, and for each function with MSI-X a "pci-msix" section with its table and PBA
 * (msix.c). Both are kept by the machine ahead of the devices' own sections, so a device's
 * post_load (piix4-pm's PM block at PMBA, say) finds its configuration space restored.
 *
 * A stream is not trusted to redefine a function: only the bits a guest could have written
 * (wmask, w1cmask) are taken from it, plus the registers the core itself changes at run time
 * (the status interrupt bit, the MSI pending bits). IDs, class, header type, capability
 * chain and BAR kind bits stay this build's. Then the BARs and the ROM are mapped where the
 * configuration now says, which claims their ranges from the ioreq server again.
 *
 * Xen keeps the INTx line levels and the PCI-ISA link routes in its own saved state (its
 * PCI_IRQ and PCI_LINK records), so a restore tells Xen nothing: the levels it already has
 * are recorded as the ones last sent, and the count of functions driving each slot's wires
 * is rebuilt from them.
 */
#include <string.h>

#include "hw/pci/pci-internal.h"
#include "xendm/machine.h"
#include "xendm/vmstate.h"

#define PCI_INTX_PIN_MAX 3 /* INTA..INTD as 0..3 */

static void pci_function_pre_save(void *obj)
{
    struct pci_device *d = obj;

    memcpy(d->state_config, d->config, sizeof(d->config));
}

static void pci_function_post_load(void *obj)
{
    struct pci_device *d = obj;

    for (unsigned i = 0; i < PCI_CONFIG_SPACE_SIZE; i++) {
        uint8_t guest_bits = d->wmask[i] | d->w1cmask[i];
        d->config[i] = (uint8_t)((d->state_config[i] & guest_bits) | (d->config[i] & ~guest_bits));
    }
    pci_set_word(d, PCI_STATUS, d->intx_level ? pci_get_word(d, PCI_STATUS) | PCI_STATUS_INTERRUPT
                                              : pci_get_word(d, PCI_STATUS) &
                                                    ~PCI_STATUS_INTERRUPT);
    pci_msi_state_loaded(d, d->state_config);
    pci_bus_recount_intx(d->bus);
    pci_update_mappings(d);
}

static const struct vmstate_field pci_function_fields[] = {
    VMSTATE_FIELD_FULL("config", struct pci_device, state_config, VMSTATE_TYPE_U8, 1,
                       PCI_CONFIG_SPACE_SIZE, 0, 0),
    VMSTATE_BOOL(struct pci_device, intx_level),
    VMSTATE_BOOL(struct pci_device, intx_line),
    VMSTATE_FIELD_FULL("intx_pin", struct pci_device, intx_pin, VMSTATE_TYPE_U32, 4, 1,
                       PCI_INTX_PIN_MAX, 0),
    VMSTATE_END,
};

static const struct vmstate_desc pci_function_state = {
    .name = "pci-function",
    .version = 1,
    .fields = pci_function_fields,
    .pre_save = pci_function_pre_save,
    .post_load = pci_function_post_load,
};

void pci_state_register(struct pci_device *d)
{
    machine_add_state(pci_device_machine(d), &pci_function_state, d->devfn, d);
}

void pci_state_unregister(struct pci_device *d)
{
    machine_remove_state(pci_device_machine(d), d);
}
