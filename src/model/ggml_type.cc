#include "model/ggml_type.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace tandem {
namespace {

constexpr uint32_t QK_K = 256;

constexpr std::array kTypes = {
    GgmlTypeInfo{GgmlType::F32, "F32", 1, 4, true},
    GgmlTypeInfo{GgmlType::F16, "F16", 1, 2, true},
    GgmlTypeInfo{GgmlType::Q4_0, "Q4_0", 32, 2 + 16, true},
    GgmlTypeInfo{GgmlType::Q4_1, "Q4_1", 32, 2 + 2 + 16, true},
    GgmlTypeInfo{GgmlType::Q5_0, "Q5_0", 32, 2 + 4 + 16, true},
    GgmlTypeInfo{GgmlType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, true},
    GgmlTypeInfo{GgmlType::Q8_0, "Q8_0", 32, 2 + 32, true},
    GgmlTypeInfo{GgmlType::Q8_1, "Q8_1", 32, 2 + 2 + 32, false},
    GgmlTypeInfo{GgmlType::Q2_K, "Q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4, true},
    GgmlTypeInfo{GgmlType::Q3_K, "Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12, true},
    GgmlTypeInfo{GgmlType::Q4_K, "Q4_K", QK_K, 2 + 2 + QK_K / 2 + 12, true},
    GgmlTypeInfo{GgmlType::Q5_K, "Q5_K", QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12, true},
    GgmlTypeInfo{GgmlType::Q6_K, "Q6_K", QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16, true},
    GgmlTypeInfo{GgmlType::Q8_K, "Q8_K", QK_K, 4 + QK_K + QK_K / 8, false},
    GgmlTypeInfo{GgmlType::IQ2_XXS, "IQ2_XXS", QK_K, 2 + QK_K / 4, false},
    GgmlTypeInfo{GgmlType::IQ2_XS, "IQ2_XS", QK_K, 2 + QK_K / 4 + QK_K / 32, false},
    GgmlTypeInfo{GgmlType::IQ3_XXS, "IQ3_XXS", QK_K, 2 + QK_K / 4 + QK_K / 8, false},
    GgmlTypeInfo{GgmlType::IQ1_S, "IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16, false},
    GgmlTypeInfo{GgmlType::IQ4_NL, "IQ4_NL", 32, 2 + 16, true},
    GgmlTypeInfo{GgmlType::IQ3_S, "IQ3_S", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4, false},
    GgmlTypeInfo{GgmlType::IQ2_S, "IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 16, false},
    GgmlTypeInfo{GgmlType::IQ4_XS, "IQ4_XS", QK_K, 2 + 2 + QK_K / 2 + QK_K / 64, true},
    GgmlTypeInfo{GgmlType::I8, "I8", 1, 1, false},
    GgmlTypeInfo{GgmlType::I16, "I16", 1, 2, false},
    GgmlTypeInfo{GgmlType::I32, "I32", 1, 4, false},
    GgmlTypeInfo{GgmlType::I64, "I64", 1, 8, false},
    GgmlTypeInfo{GgmlType::F64, "F64", 1, 8, false},
    GgmlTypeInfo{GgmlType::IQ1_M, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, false},
    GgmlTypeInfo{GgmlType::BF16, "BF16", 1, 2, true},
    GgmlTypeInfo{GgmlType::TQ1_0, "TQ1_0", QK_K, 2 + 4 * 13, false},
    GgmlTypeInfo{GgmlType::TQ2_0, "TQ2_0", QK_K, 2 + 64, false},
    GgmlTypeInfo{GgmlType::MXFP4, "MXFP4", 32, 1 + 16, true},
};

constexpr std::array kSupported = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,   GgmlType::Q4_0,   GgmlType::Q4_1,  GgmlType::Q5_0,
    GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,   GgmlType::Q3_K,   GgmlType::Q4_K,  GgmlType::Q5_K,
    GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4,
};

}  // namespace

std::span<const GgmlType> SupportedTypes() { return kSupported; }

std::optional<GgmlTypeInfo> FindTypeInfo(uint32_t type) {
  for (const auto& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == type) return info;
  }
  return std::nullopt;
}

const GgmlTypeInfo& TypeInfo(GgmlType type) {
  for (const auto& info : kTypes) {
    if (info.type == type) return info;
  }
  return kTypes[0];  // unreachable: every enumerator is in kTypes
}

std::string_view TypeName(GgmlType type) { return TypeInfo(type).name; }

std::optional<GgmlType> ParseTypeName(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const auto& info : kTypes) {
    if (info.name == upper) return info.type;
  }
  return std::nullopt;
}

}  // namespace tandem
