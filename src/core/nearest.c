/* nearest.c - edit distance and the nearest known name (see src/core/nearest.h). */
#include "core/nearest.h"

#include <ctype.h>
#include <string.h>

int ac_edit_distance(const char *a, const char *b) {
    enum { MAX_LEN = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAX_LEN || lb > MAX_LEN || (la > lb ? la - lb : lb - la) > AC_NEAR_MISS)
        return AC_NEAR_MISS + 1;
    int prev[MAX_LEN + 1], cur[MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int subst = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = prev[j - 1] + subst;
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, (lb + 1) * sizeof cur[0]);
    }
    return prev[lb];
}

const char *ac_nearest(const char *word, const char *const *choices, int n) {
    const char *near = NULL;
    int best = AC_NEAR_MISS + 1;
    for (int i = 0; i < n; i++) {
        int d = ac_edit_distance(word, choices[i]);
        if (d < best) {
            best = d;
            near = choices[i];
        }
    }
    return near;
}
