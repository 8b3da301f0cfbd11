/* mcugen_fully_connected_s8.c: fully connected layer, int8: weight [out][in], the input
 * read flat (NHWC order). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_FULLY_CONNECTED_S8_DEFINED
#define MCUGEN_FULLY_CONNECTED_S8_DEFINED

/* Fully connected: output[o] = requant(bias[o] + sum_i input[i] * weight[o][i]). */
MCUGEN_KERNEL void mcugen_fully_connected_s8(const mcugen_fc_dims_t *d, const mcugen_requant_t *q,
                                             const int8_t *input, const int8_t *weight, const int32_t *bias,
                                             int8_t *output)
{
    for (int32_t o = 0; o < d->out_features; ++o) {
        const int8_t *w = weight + o * d->in_features;
        int32_t acc = bias[o];
        for (int32_t i = 0; i < d->in_features; ++i) {
            acc += input[i] * w[i];
        }
        output[o] = mcugen_requantize_s8(acc, q, o);
    }
}

#endif /* MCUGEN_FULLY_CONNECTED_S8_DEFINED */
