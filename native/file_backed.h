// Floats kept in a file-backed shared mapping of an unnamed temporary file: their pages are the
// page cache's, so the process can hand back the ones it is done with (they are read again
// from the cache, or the disk, when touched) and the kernel can reclaim them under pressure. A
// large model's arena lives in one while a pass runs its segments (lib/file-backed.ts).
#pragma once
#include <cstddef>
#include <string>

namespace llfc {

// `count` zeroed floats mapped from a new unnamed file in directory `dir`, its blocks reserved
// up front (a full disk is an error here, never a fault when a page is first written). Returns
// nullptr and says why in `why` when the file cannot be made, sized or mapped.
float* map_file_backed(const char* dir, size_t count, std::string* why);

// Unmaps floats map_file_backed returned (the file goes with its last mapping); other pointers are left alone.
void unmap_file_backed(float* data);

// Hands back the process's pages of [data, data + count) where that range lies inside one
// mapping from map_file_backed (its values stay in the file); returns the bytes of the pages
// handed back, 0 for a range of other memory, which is left alone.
size_t release_file_pages(const float* data, size_t count);

}  // namespace llfc
