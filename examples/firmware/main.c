/* Firmware example: the VWW model on a Cortex-M4, under QEMU (mps2-an386).
 *
 * Fills the input with a deterministic pseudo-random pattern (a 32-bit LCG, so the
 * test can recompute it in Python), or, built with --row-input (make ROW_INPUT=1), hands
 * the same pattern over row by row as a camera would, runs the model once, and prints the class and the
 * output bytes over semihosting. The start-up (templates/target/startup.c) ends the
 * program through semihosting when main returns, so QEMU exits with status 0. */
#include <stdint.h>

#include "vww.h"

/* Semihosting SYS_WRITE0: the debugger (here QEMU) prints a NUL-terminated string. */
static void put(const char *text)
{
    register uint32_t op __asm__("r0") = 0x04u;
    register const char *arg __asm__("r1") = text;
    __asm__ volatile("bkpt #0xab" : "+r"(op) : "r"(arg) : "memory");  /* r0: the result */
}

static void put_int(int32_t value)
{
    char text[12];
    char *p = text + sizeof text - 1;
    uint32_t magnitude = value < 0 ? 0u - (uint32_t)value : (uint32_t)value;
    *p = '\0';
    do {
        *--p = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
    } while (magnitude != 0u);
    if (value < 0) {
        *--p = '-';
    }
    put(p);
}

/* The input pattern: byte i is the top byte of the LCG state after i+1 steps from SEED. */
#define SEED 12345u

#ifndef VWW_ROW_INPUT
static void fill_input(int8_t *input, int32_t size)
{
    uint32_t state = SEED;
    for (int32_t i = 0; i < size; ++i) {
        state = state * 1664525u + 1013904223u;
        input[i] = (int8_t)(uint8_t)(state >> 24);
    }
}
#endif

#ifdef VWW_ROW_INPUT
/* A --row-input build (make ROW_INPUT=1): no input buffer. vww_run asks for the rows as its
   row pipeline needs them; this fake camera makes each row as it is asked for, the same
   pattern continued, and checks that they come once each and in order. */
static uint32_t camera_state = SEED;
static int32_t camera_next_row;
static int32_t camera_bad;

void vww_input_row(int32_t row, vww_input_t *dst)
{
    if (row != camera_next_row) {
        camera_bad = 1;
    }
    for (int32_t i = 0; i < VWW_INPUT_ROW_SIZE; ++i) {
        camera_state = camera_state * 1664525u + 1013904223u;
        dst[i] = (int8_t)(uint8_t)(camera_state >> 24);
    }
    camera_next_row = row + 1;
}
#endif

int main(void)
{
#ifdef VWW_ROW_INPUT
    vww_run();
    if (camera_bad != 0 || camera_next_row != VWW_INPUT_HEIGHT) {
        put("camera: rows out of order\n");
        return 1;
    }
#else
    fill_input(vww_input(), VWW_INPUT_SIZE);
    vww_run();
#endif
    const int8_t *out = vww_output();
    int32_t best = 0;
    for (int32_t i = 1; i < VWW_OUTPUT_SIZE; ++i) {
        if (out[i] > out[best]) {
            best = i;
        }
    }
    put("class: ");
    put_int(best);
    put("\noutput:");
    for (int32_t i = 0; i < VWW_OUTPUT_SIZE; ++i) {
        put(" ");
        put_int(out[i]);
    }
    put("\n");
    return 0;
}
