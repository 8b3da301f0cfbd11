/* mcugen_lut_f32.c: an element-wise function, float32: the steps of ops/lut.py computed
 * directly, not from a table (the int8 kernel's table holds the same function). */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_LUT_F32_DEFINED
#define MCUGEN_LUT_F32_DEFINED

/* A step applied to v, which starts as the input x (ops/lut.py, STEPS): */
enum {
    MCUGEN_STEP_AFFINE,          /* v * a + b */
    MCUGEN_STEP_CLIP,            /* clamp(v, a, b) (a > b gives b, as ONNX's Clip) */
    MCUGEN_STEP_HARDSIGMOID,     /* clamp(a * v + b, 0, 1) */
    MCUGEN_STEP_HARDSWISH,       /* v * clamp(v / 6 + 1/2, 0, 1) */
    MCUGEN_STEP_LEAKYRELU,       /* v >= 0 ? v : a * v */
    MCUGEN_STEP_SIGMOID,         /* 1 / (1 + exp(-v)) */
    MCUGEN_STEP_TANH,            /* tanh(v) */
    MCUGEN_STEP_MUL_INPUT        /* v * x */
};

typedef struct {
    int32_t op;                  /* MCUGEN_STEP_... */
    float a, b;
} mcugen_lut_step_f32_t;

typedef struct {
    int32_t size;
    int32_t count;               /* steps */
    const mcugen_lut_step_f32_t *steps;
    float act_min, act_max;
} mcugen_lut_f32_params_t;

/* output[i] = act(f(input[i])), f the steps in order, as the numpy reference computes them
   (ops/lut.py). Specialized per layer: its steps are constants, and the compiler unrolls
   and folds them. */
MCUGEN_SPECIALIZED void mcugen_lut_f32(const mcugen_lut_f32_params_t *p, const float *input, float *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        const float x = input[i];
        float v = x;
#if defined(__GNUC__)
        _Pragma("GCC unroll 16")  /* folded at -O2 too, not only at -O3 */
#endif
        for (int32_t k = 0; k < p->count; ++k) {
            const mcugen_lut_step_f32_t *s = &p->steps[k];
            switch (s->op) {
            case MCUGEN_STEP_AFFINE:
                v = v * s->a + s->b;
                break;
            case MCUGEN_STEP_CLIP:
                v = mcugen_clamp_f32(v, s->a, s->b);
                break;
            case MCUGEN_STEP_HARDSIGMOID:
                v = mcugen_clamp_f32(s->a * v + s->b, 0.0f, 1.0f);
                break;
            case MCUGEN_STEP_HARDSWISH:
                v = v * mcugen_clamp_f32(v / 6.0f + 0.5f, 0.0f, 1.0f);
                break;
            case MCUGEN_STEP_LEAKYRELU:
                v = v >= 0.0f ? v : s->a * v;
                break;
            case MCUGEN_STEP_SIGMOID:
                v = 0.5f * (1.0f + tanhf(0.5f * v));   /* no overflow for any v, unlike 1 / (1 + exp(-v)) */
                break;
            case MCUGEN_STEP_TANH:
                v = tanhf(v);
                break;
            default:  /* MCUGEN_STEP_MUL_INPUT */
                v = v * x;
                break;
            }
        }
        output[i] = mcugen_clamp_f32(v, p->act_min, p->act_max);
    }
}

#endif /* MCUGEN_LUT_F32_DEFINED */
