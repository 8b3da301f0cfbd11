/* mcugen_softmax_s8.c: softmax over the last axis, int8, integer-only: exp comes from a
 * table computed at compile time (ops/softmax.py). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_SOFTMAX_S8_DEFINED
#define MCUGEN_SOFTMAX_S8_DEFINED

typedef struct {
    int32_t rows, classes;
    int32_t output_zp;
    const uint16_t *exp_table;   /* exp_table[d] = round(2^15 * exp(-d * input_scale)) */
} mcugen_softmax_s8_params_t;

/* Softmax: output = round(256 * e[i] / sum(e)) + zp with e[i] = exp_table[max - x[i]];
   the output scale is 1/256. */
MCUGEN_KERNEL void mcugen_softmax_s8(const mcugen_softmax_s8_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t r = 0; r < p->rows; ++r, input += p->classes, output += p->classes) {
        int32_t max = input[0];
        int32_t sum = 0;
        for (int32_t i = 1; i < p->classes; ++i) {
            max = input[i] > max ? input[i] : max;
        }
        for (int32_t i = 0; i < p->classes; ++i) {
            sum += p->exp_table[max - input[i]];
        }
        for (int32_t i = 0; i < p->classes; ++i) {
            const int32_t e = p->exp_table[max - input[i]];
            output[i] = mcugen_clamp_s8((e * 256 + sum / 2) / sum + p->output_zp, -128, 127);
        }
    }
}

#endif /* MCUGEN_SOFTMAX_S8_DEFINED */
