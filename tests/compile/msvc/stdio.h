/* tests/compile/msvc/stdio.h - a stand-in for the UCRT's <stdio.h> with the
   declarations distill.h and its checks use, as the UCRT spells them (the
   MSVC syntax check, tests/compile/msvc.sh). */
#ifndef T_MSVC_STDIO_H
#define T_MSVC_STDIO_H
#include <stddef.h>
#include <stdarg.h>
typedef struct _iobuf { void *_Placeholder; } FILE;
#define EOF (-1)
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#define BUFSIZ 512
FILE *__cdecl __acrt_iob_func(unsigned _Ix);
#define stdin (__acrt_iob_func(0))
#define stdout (__acrt_iob_func(1))
#define stderr (__acrt_iob_func(2))
FILE *__cdecl fopen(const char *_FileName, const char *_Mode);
int __cdecl fclose(FILE *_Stream);
size_t __cdecl fread(void *_Buffer, size_t _ElementSize, size_t _ElementCount, FILE *_Stream);
size_t __cdecl fwrite(const void *_Buffer, size_t _ElementSize, size_t _ElementCount, FILE *_Stream);
int __cdecl fflush(FILE *_Stream);
int __cdecl ferror(FILE *_Stream);
int __cdecl feof(FILE *_Stream);
int __cdecl fseek(FILE *_Stream, long _Offset, int _Origin);
long __cdecl ftell(FILE *_Stream);
int __cdecl _fseeki64(FILE *_Stream, __int64 _Offset, int _Origin);
__int64 __cdecl _ftelli64(FILE *_Stream);
int __cdecl fgetc(FILE *_Stream);
char *__cdecl fgets(char *_Buffer, int _MaxCount, FILE *_Stream);
int __cdecl fputc(int _Character, FILE *_Stream);
int __cdecl fputs(const char *_Buffer, FILE *_Stream);
int __cdecl remove(const char *_FileName);
int __cdecl rename(const char *_OldFileName, const char *_NewFileName);
int __cdecl printf(const char *_Format, ...);
int __cdecl fprintf(FILE *_Stream, const char *_Format, ...);
int __cdecl sprintf(char *_Buffer, const char *_Format, ...);
int __cdecl snprintf(char *_Buffer, size_t _BufferCount, const char *_Format, ...);
int __cdecl vsnprintf(char *_Buffer, size_t _BufferCount, const char *_Format, va_list _ArgList);
int __cdecl vfprintf(FILE *_Stream, const char *_Format, va_list _ArgList);
int __cdecl sscanf(const char *_Buffer, const char *_Format, ...);
#endif
