/* nearest.h - "did you mean": the known name nearest to a misspelt one.
 *
 * Config keys and sections, dataset names and CSV column names are all offered this way when a
 * name is not found: the candidate with the smallest case-insensitive edit distance, if that
 * distance is at most AC_NEAR_MISS. Nothing is allocated.
 */
#ifndef ATTNCAST_NEAREST_H
#define ATTNCAST_NEAREST_H

/* Names within this many edits (insert, delete, substitute) count as near misses. */
#define AC_NEAR_MISS 2

/* Case-insensitive Levenshtein distance of a and b, or AC_NEAR_MISS + 1 when it is surely
 * larger (also for names longer than 64 bytes). */
int ac_edit_distance(const char *a, const char *b);

/* The first of the n choices nearest to word within AC_NEAR_MISS edits, or NULL. */
const char *ac_nearest(const char *word, const char *const *choices, int n);

#endif
