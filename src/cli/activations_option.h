// The --activations option of the commands that run an engine (run, serve, bench decode): how
// the quantized products take their activations (EngineOptions::ggml_activation_rounding).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace tandem {

inline CLI::Option* AddActivationsOption(CLI::App* app, std::string* value) {
  return app
      ->add_option("--activations", *value,
                   "activations of the quantized products: auto (the backend's default: f32 on cpu, int8 dp4a on "
                   "cuda), f32, or ggml (rounded to int8 per block like llama.cpp)")
      ->check(CLI::IsMember({"auto", "f32", "ggml"}))
      ->capture_default_str();
}

inline std::optional<bool> ActivationRoundingOf(const std::string& value) {
  if (value == "auto") return std::nullopt;
  return value == "ggml";
}

}  // namespace tandem
