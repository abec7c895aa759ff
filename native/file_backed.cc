#include "file_backed.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace llfc {

#if defined(__linux__)

namespace {

// The live mappings, start → bytes: release_file_pages acts on these only, since dropping pages
// of private memory would lose its values.
std::mutex mappings_mutex;
std::map<uintptr_t, size_t> mappings;

size_t page_bytes() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

size_t rounded_to_pages(size_t bytes) {
  const size_t page = page_bytes();
  return (bytes + page - 1) / page * page;
}

}  // namespace

// An unnamed file in `dir` (O_TMPFILE), or where the file system has none, a named one unlinked
// at once: either way nothing is left behind, whatever ends the process.
static int unnamed_file(const char* dir, std::string* why) {
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
    *why = std::string("cannot make a file in ") + dir + ": " + std::strerror(errno);
    return -1;
  }
  std::string path = std::string(dir) + "/llfc-arena-XXXXXX";
  std::vector<char> name(path.begin(), path.end());
  name.push_back('\0');
  fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    *why = std::string("cannot make a file in ") + dir + ": " + std::strerror(errno);
    return -1;
  }
  unlink(name.data());
  return fd;
}

float* map_file_backed(const char* dir, size_t count, std::string* why) {
  if (count == 0 || count > SIZE_MAX / sizeof(float)) {
    *why = "a file-backed mapping needs between 1 and SIZE_MAX / 4 floats";
    return nullptr;
  }
  const size_t bytes = rounded_to_pages(count * sizeof(float));
  const int fd = unnamed_file(dir, why);
  if (fd < 0) return nullptr;
  const int reserved = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (reserved != 0) {
    *why = std::string("cannot reserve ") + std::to_string(bytes) + " bytes in " + dir + ": " + std::strerror(reserved);
    close(fd);
    return nullptr;
  }
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int mapped = errno;
  close(fd);
  if (data == MAP_FAILED) {
    *why = std::string("cannot map ") + std::to_string(bytes) + " bytes: " + std::strerror(mapped);
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mappings_mutex);
  mappings[reinterpret_cast<uintptr_t>(data)] = bytes;
  return static_cast<float*>(data);
}

void unmap_file_backed(float* data) {
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mappings_mutex);
    auto it = mappings.find(reinterpret_cast<uintptr_t>(data));
    if (it == mappings.end()) return;
    bytes = it->second;
    mappings.erase(it);
  }
  munmap(data, bytes);
}

size_t release_file_pages(const float* data, size_t count) {
  if (count == 0) return 0;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t end = begin + count * sizeof(float);
  std::lock_guard<std::mutex> lock(mappings_mutex);
  auto it = mappings.upper_bound(begin);
  if (it == mappings.begin()) return 0;
  --it;
  const uintptr_t start = it->first, stop = it->first + it->second;
  if (begin < start || end > stop) return 0;
  // Whole pages around the range: the rest of a shared page is in the file too, so nothing is lost.
  const size_t page = page_bytes();
  const uintptr_t from = begin / page * page;
  const uintptr_t to = std::min<uintptr_t>(stop, (end + page - 1) / page * page);
  if (madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED) != 0) return 0;
  return to - from;
}

#else

float* map_file_backed(const char*, size_t, std::string* why) {
  *why = "file-backed arenas are made on Linux only";
  return nullptr;
}

void unmap_file_backed(float*) {}

size_t release_file_pages(const float*, size_t) { return 0; }

#endif

}  // namespace llfc
