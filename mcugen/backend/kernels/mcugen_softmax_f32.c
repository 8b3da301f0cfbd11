/* mcugen_softmax_f32.c: softmax over the last axis, float32. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_SOFTMAX_F32_DEFINED
#define MCUGEN_SOFTMAX_F32_DEFINED

typedef struct {
    int32_t rows, classes;
} mcugen_softmax_f32_params_t;

/* Softmax: output[i] = exp(x[i] - max) / sum_j exp(x[j] - max), row by row. Each row is
   read whole before it is written (the planner relies on that: ops/softmax.py, access),
   so the exponentials are computed twice rather than stored in the output. */
MCUGEN_KERNEL void mcugen_softmax_f32(const mcugen_softmax_f32_params_t *p, const float *input, float *output)
{
    const int32_t rows = p->rows, classes = p->classes;
    for (int32_t r = 0; r < rows; ++r) {
        float max = input[0];
        float sum = 0.0f;
        for (int32_t i = 1; i < classes; ++i) {
            max = input[i] > max ? input[i] : max;
        }
        for (int32_t i = 0; i < classes; ++i) {
            sum += expf(input[i] - max);
        }
        for (int32_t i = 0; i < classes; ++i) {
            output[i] = expf(input[i] - max) / sum;
        }
        input = input + classes;
        output = output + classes;
    }
}

#endif /* MCUGEN_SOFTMAX_F32_DEFINED */
