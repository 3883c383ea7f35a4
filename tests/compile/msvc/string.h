/* tests/compile/msvc/string.h - a stand-in for the UCRT's <string.h> (the
   MSVC syntax check, tests/compile/msvc.sh). */
#ifndef T_MSVC_STRING_H
#define T_MSVC_STRING_H
#include <stddef.h>
void *__cdecl memset(void *_Dst, int _Val, size_t _Size);
void *__cdecl memcpy(void *_Dst, const void *_Src, size_t _Size);
void *__cdecl memmove(void *_Dst, const void *_Src, size_t _Size);
int __cdecl memcmp(const void *_Buf1, const void *_Buf2, size_t _Size);
void *__cdecl memchr(const void *_Buf, int _Val, size_t _MaxCount);
size_t __cdecl strlen(const char *_Str);
int __cdecl strcmp(const char *_Str1, const char *_Str2);
int __cdecl strncmp(const char *_Str1, const char *_Str2, size_t _MaxCount);
char *__cdecl strcpy(char *_Dest, const char *_Source);
char *__cdecl strncpy(char *_Dest, const char *_Source, size_t _Count);
char *__cdecl strcat(char *_Dest, const char *_Source);
char *__cdecl strchr(const char *_Str, int _Val);
char *__cdecl strrchr(const char *_Str, int _Ch);
char *__cdecl strstr(const char *_Str, const char *_SubStr);
size_t __cdecl strspn(const char *_Str, const char *_Control);
size_t __cdecl strcspn(const char *_Str, const char *_Control);
char *__cdecl strerror(int _ErrorMessage);
#endif
