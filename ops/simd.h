// SPDX-License-Identifier: Apache-2.0
// What lives here: UNROLL_SIMD_CLONES, put on the plain-array loops of the pointwise kernels (ops/pointwise.h,
// the gate ops). GCC compiles such a function three times -- baseline x86-64 (SSE2), x86-64-v3 (AVX2)
// and x86-64-v4 (AVX-512) -- and picks one when the program loads, by the CPU it runs on; one binary stays
// portable and still uses the wide vectors where they exist.
//
// Note [Same bits on every clone]: the library is compiled with -ffp-contract=off, so no clone fuses a
// multiply and an add into one FMA. Each clone then does the same IEEE operations per element in the same
// order (the loops are element-wise, no reductions), and all three give the same bits; only the width of
// the vectors differs. The macro is empty outside the library's own build (UNROLL_SIMD_CLONES_ON is a
// private definition), because a consumer's translation unit may allow contraction.
#pragma once

#if defined(UNROLL_SIMD_CLONES_ON) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define UNROLL_SIMD_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define UNROLL_SIMD_CLONES
#endif
