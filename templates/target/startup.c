/* Minimal Cortex-M start-up, shipped by mcugen for its target builds and the firmware
 * example: the vector table, and a reset handler that copies .data from flash, zeroes
 * .bss and calls main. Nothing else: no clock set-up (an emulator needs none), no C library
 * initialisation (the model needs none), and the FPU is enabled only in a hard-float build
 * (--precision float32; the int8 path uses no float and builds with -mfloat-abi=soft).
 *
 * When main returns, or on any fault, the program ends through semihosting (SYS_EXIT),
 * which QEMU's -semihosting turns into its exit status and which stops mcugen's
 * emulator with an exception it reports. */
#include <stdint.h>

/* From the linker script (link.ld). */
extern uint32_t __data_load[];
extern uint32_t __data_start[];
extern uint32_t __data_end[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];
extern uint32_t __stack_top[];

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

#define SYS_EXIT 0x18u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u   /* QEMU exits with status 0 */
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u      /* QEMU exits with status 1 */

/* Semihosting call: BKPT 0xAB with the operation in r0 and its argument in r1. */
static void semihosting_exit(uint32_t reason)
{
    register uint32_t op __asm__("r0") = SYS_EXIT;
    register uint32_t arg __asm__("r1") = reason;
    __asm__ volatile("bkpt #0xab" : "+r"(op) : "r"(arg) : "memory");  /* r0: the result */
}

/* The 16 system entries are enough: nothing here enables an interrupt. */
__attribute__((section(".vectors"), used))
const uintptr_t mcugen_vectors[16] = {
    (uintptr_t)__stack_top,
    (uintptr_t)Reset_Handler,
    (uintptr_t)Fault_Handler,   /* NMI */
    (uintptr_t)Fault_Handler,   /* HardFault */
    (uintptr_t)Fault_Handler,   /* MemManage */
    (uintptr_t)Fault_Handler,   /* BusFault */
    (uintptr_t)Fault_Handler,   /* UsageFault */
    0, 0, 0, 0,
    (uintptr_t)Fault_Handler,   /* SVCall */
    (uintptr_t)Fault_Handler,   /* DebugMonitor */
    0,
    (uintptr_t)Fault_Handler,   /* PendSV */
    (uintptr_t)Fault_Handler,   /* SysTick */
};

void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* CPACR (System Control Block): full access to coprocessors 10 and 11, the FPU, before
       any float instruction runs; then let the write take effect. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" : : : "memory");
#endif
    /* volatile, so the compiler cannot turn these loops into memcpy/memset calls,
       which would run before the C environment exists. */
    volatile uint32_t *dst = __data_start;
    const volatile uint32_t *src = __data_load;
    while (dst < __data_end) {
        *dst++ = *src++;
    }
    for (dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    (void)main();
    semihosting_exit(ADP_STOPPED_APPLICATION_EXIT);
    for (;;) {
    }
}

void Fault_Handler(void)
{
    semihosting_exit(ADP_STOPPED_RUNTIME_ERROR);
    for (;;) {
    }
}
