// How kernels() picks its table; internal to kernels/ and its tests (the runtime calls
// kernels() only). Split out so tests can exercise every EMBER_ISA value without
// depending on the process environment or the once-only choice.
#pragma once
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace ember {

struct KernelChoice {
    const KernelTable* table = nullptr;
    std::string warning;  // empty unless the request could not be honoured
};

// The table kernels() uses when EMBER_ISA has the value `isa_env` (nullptr or "" = unset):
// unset picks the best ISA this build compiled and this CPU runs; a known ISA that is not
// usable here, or an unknown name, falls back to generic with a one-line warning.
KernelChoice choose_kernels(const char* isa_env);

// Every table this build compiled and this CPU can run, generic first. Kernel tests loop
// over these so each new ISA is checked against the reference automatically.
std::vector<const KernelTable*> usable_kernel_tables();

}  // namespace ember
