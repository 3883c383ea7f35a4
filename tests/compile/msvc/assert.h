/* tests/compile/msvc/assert.h - a stand-in for the UCRT's <assert.h> (the
   MSVC syntax check, tests/compile/msvc.sh). */
#include <stddef.h> /* wchar_t */
#undef assert
#ifdef NDEBUG
#define assert(expression) ((void)0)
#else
void __cdecl _wassert(const wchar_t *_Message, const wchar_t *_File, unsigned _Line);
#define assert(expression) ((void)((!!(expression)) || (_wassert(L"" #expression, L"" __FILE__, (unsigned)(__LINE__)), 0)))
#endif
