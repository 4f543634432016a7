/* fields.c - splitting comma-separated lists (see src/core/fields.h). */
#include "core/fields.h"

#include <ctype.h>
#include <string.h>

bool ac_each_field(char *buf, bool (*visit)(const char *field, void *user), void *user) {
    char *field = buf;
    while (isspace((unsigned char)*field)) field++;
    if (!*field) return true;
    for (bool more = true; more;) {
        char *comma = strchr(field, ',');
        more = comma != NULL;
        if (comma) *comma = '\0';
        char *end = field + strlen(field);
        while (isspace((unsigned char)*field)) field++;
        while (end > field && isspace((unsigned char)end[-1])) *--end = '\0';
        if (!visit(field, user)) return false;
        if (comma) field = comma + 1;
    }
    return true;
}
