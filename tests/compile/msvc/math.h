/* tests/compile/msvc/math.h - a stand-in for the UCRT's <math.h> (the MSVC
   syntax check, tests/compile/msvc.sh): its constants are spelt as the UCRT
   spells them, and M_PI and friends exist only under _USE_MATH_DEFINES. */
#ifndef T_MSVC_MATH_H
#define T_MSVC_MATH_H
#ifndef _HUGE_ENUF
#define _HUGE_ENUF 1e+300
#endif
#define INFINITY ((float)(_HUGE_ENUF * _HUGE_ENUF))
#define HUGE_VAL ((double)INFINITY)
#define HUGE_VALF ((float)INFINITY)
#define NAN (-(float)(INFINITY * 0.0F))
#define FP_INFINITE 1
#define FP_NAN 2
#define FP_NORMAL (-1)
#define FP_SUBNORMAL (-2)
#define FP_ZERO 0
short __cdecl _dclass(double _X);
short __cdecl _fdclass(float _X);
#define fpclassify(x) (sizeof(x) == sizeof(float) ? _fdclass((float)(x)) : _dclass((double)(x)))
#define isfinite(x) (fpclassify(x) <= 0)
#define isinf(x) (fpclassify(x) == FP_INFINITE)
#define isnan(x) (fpclassify(x) == FP_NAN)
#define T_MSVC_MATH2(name) double __cdecl name(double _X); float __cdecl name##f(float _X);
T_MSVC_MATH2(fabs) T_MSVC_MATH2(sqrt) T_MSVC_MATH2(exp) T_MSVC_MATH2(log) T_MSVC_MATH2(log1p)
T_MSVC_MATH2(log2) T_MSVC_MATH2(log10) T_MSVC_MATH2(expm1) T_MSVC_MATH2(floor) T_MSVC_MATH2(ceil)
T_MSVC_MATH2(round) T_MSVC_MATH2(trunc) T_MSVC_MATH2(nearbyint) T_MSVC_MATH2(rint) T_MSVC_MATH2(cos)
T_MSVC_MATH2(sin) T_MSVC_MATH2(tan) T_MSVC_MATH2(acos) T_MSVC_MATH2(asin) T_MSVC_MATH2(atan)
T_MSVC_MATH2(tanh) T_MSVC_MATH2(cosh) T_MSVC_MATH2(sinh) T_MSVC_MATH2(erf) T_MSVC_MATH2(erfc)
#undef T_MSVC_MATH2
double __cdecl pow(double _X, double _Y);
float __cdecl powf(float _X, float _Y);
double __cdecl fmod(double _X, double _Y);
float __cdecl fmodf(float _X, float _Y);
double __cdecl atan2(double _Y, double _X);
float __cdecl atan2f(float _Y, float _X);
double __cdecl fmax(double _X, double _Y);
float __cdecl fmaxf(float _X, float _Y);
double __cdecl fmin(double _X, double _Y);
float __cdecl fminf(float _X, float _Y);
double __cdecl fma(double _X, double _Y, double _Z);
float __cdecl fmaf(float _X, float _Y, float _Z);
double __cdecl ldexp(double _X, int _Y);
float __cdecl ldexpf(float _X, int _Y);
double __cdecl frexp(double _X, int *_Y);
float __cdecl frexpf(float _X, int *_Y);
long __cdecl lround(double _X);
long __cdecl lroundf(float _X);
#ifdef _USE_MATH_DEFINES
#define M_E 2.71828182845904523536
#define M_LN2 0.693147180559945309417
#define M_PI 3.14159265358979323846
#define M_SQRT2 1.41421356237309504880
#endif
#endif
