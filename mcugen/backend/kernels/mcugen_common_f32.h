/* mcugen_common_f32.h: what the float32 kernels share: the fused activation's bounds and
 * clamp, and the window's bounds check. Link with -lm (expf, tanhf). */
#ifndef MCUGEN_COMMON_F32_H
#define MCUGEN_COMMON_F32_H

#include <math.h>
#include <stdint.h>

#include "mcugen_common.h"

/* The fused activation (ReLU, ReLU6, Clip) as bounds on the output; +-INFINITY: none. */
typedef struct {
    float act_min, act_max;
} mcugen_act_f32_t;

/* Not every model uses every helper; clang warns about unused static inline functions,
   gcc does not. */
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#endif

/* The fused activation (ReLU, ReLU6, Clip): max with lo first, then min with hi, so that
   lo > hi gives hi, as ONNX's Clip does. Infinite bounds leave v alone; NaN passes. */
static inline float mcugen_clamp_f32(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* True when tap (iy, ix) reads the input, false when it falls on padding. */
static inline int mcugen_inside_f32(const mcugen_conv_dims_t *d, int32_t iy, int32_t ix)
{
    return iy >= 0 && iy < d->in_h && ix >= 0 && ix < d->in_w;
}

#ifdef __clang__
#pragma clang diagnostic pop
#endif

#endif /* MCUGEN_COMMON_F32_H */
