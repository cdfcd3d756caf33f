/* bcryptprimitives.dll for wine 8: Go 1.26 Windows binaries need
 * ProcessPrng, which wine 8 lacks; forward it to RtlGenRandom
 * (advapi32!SystemFunction036). Test machines only. */
#include <windows.h>
typedef BOOLEAN (WINAPI *rtlgenrandom_t)(PVOID, ULONG);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    static rtlgenrandom_t gen;
    if (!gen) gen = (rtlgenrandom_t)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!gen || !gen(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}
