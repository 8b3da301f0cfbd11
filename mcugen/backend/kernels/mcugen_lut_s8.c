/* mcugen_lut_s8.c: an element-wise function as a 256-entry table computed at compile time
 * (HardSwish, HardSigmoid, Sigmoid, scalar arithmetic and their compositions; ops/lut.py). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_LUT_S8_DEFINED
#define MCUGEN_LUT_S8_DEFINED

typedef struct {
    int32_t size;
    const int8_t *table;         /* table[q + 128]: the output for input q */
} mcugen_lut_s8_params_t;

/* output[i] = table[input[i] + 128]. */
MCUGEN_KERNEL void mcugen_lut_s8(const mcugen_lut_s8_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = p->table[input[i] + 128];
    }
}

#endif /* MCUGEN_LUT_S8_DEFINED */
