// What this machine is: its name and the memory a new load can use.
#pragma once

#include <cstdint>
#include <string>

namespace tandem {

std::string HostName();  // "localhost" when the system will not say
// Memory available without swapping (MemAvailable: free plus reclaimable page cache),
// in bytes; the physical memory when /proc/meminfo cannot be read.
uint64_t AvailableMemoryBytes();

}  // namespace tandem
