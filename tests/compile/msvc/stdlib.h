/* tests/compile/msvc/stdlib.h - a stand-in for the UCRT's <stdlib.h> (the
   MSVC syntax check, tests/compile/msvc.sh). */
#ifndef T_MSVC_STDLIB_H
#define T_MSVC_STDLIB_H
#include <stddef.h>
#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
#define RAND_MAX 0x7fff
void *__cdecl malloc(size_t _Size);
void *__cdecl calloc(size_t _Count, size_t _Size);
void *__cdecl realloc(void *_Block, size_t _Size);
void __cdecl free(void *_Block);
void *__cdecl _aligned_malloc(size_t _Size, size_t _Alignment);
void __cdecl _aligned_free(void *_Block);
void __cdecl qsort(void *_Base, size_t _NumOfElements, size_t _SizeOfElements,
                   int(__cdecl *_CompareFunction)(const void *, const void *));
double __cdecl strtod(const char *_String, char **_EndPtr);
float __cdecl strtof(const char *_String, char **_EndPtr);
long __cdecl strtol(const char *_String, char **_EndPtr, int _Radix);
unsigned long __cdecl strtoul(const char *_String, char **_EndPtr, int _Radix);
long long __cdecl strtoll(const char *_String, char **_EndPtr, int _Radix);
unsigned long long __cdecl strtoull(const char *_String, char **_EndPtr, int _Radix);
double __cdecl atof(const char *_String);
int __cdecl atoi(const char *_String);
int __cdecl abs(int _Number);
long __cdecl labs(long _Number);
char *__cdecl getenv(const char *_VarName);
__declspec(noreturn) void __cdecl exit(int _Code);
__declspec(noreturn) void __cdecl abort(void);
int __cdecl rand(void);
void __cdecl srand(unsigned _Seed);
#endif
