// The op codes of each kernel family that switches on an op, declared once: one X-macro list per
// family, in the order of the name lists in lib/backend/types.ts (UNARY_OPS, BINARY_OPS,
// REDUCE_OPS, RNN_CELLS), where a code is the op's index. Each list generates the enum the
// kernels switch on and the name array the addon exports as _opNames(), which the tests compare
// with the TypeScript lists. New ops are appended: a code never changes meaning.
//
// Included by the per-ISA kernel units (through kernels.h), so it holds only macros, enums and
// internal-linkage constant arrays: nothing inline or templated that the ODR rule of
// simd_impl.h forbids, and no napi.
#pragma once

// X(enumerator, "name")
#define BP_UNARY_OP_LIST(X)  \
  X(kRelu, "relu")           \
  X(kLeakyRelu, "leakyRelu") \
  X(kSigmoid, "sigmoid")     \
  X(kTanh, "tanh")           \
  X(kGelu, "gelu")           \
  X(kExp, "exp")             \
  X(kLog, "log")             \
  X(kSqrt, "sqrt")           \
  X(kAbs, "abs")             \
  X(kNeg, "neg")             \
  X(kSign, "sign")           \
  X(kSoftplus, "softplus")   \
  X(kSilu, "silu")           \
  X(kElu, "elu")

#define BP_BINARY_OP_LIST(X) \
  X(kAdd, "add")             \
  X(kSub, "sub")             \
  X(kMul, "mul")             \
  X(kDiv, "div")             \
  X(kPow, "pow")             \
  X(kMaximum, "maximum")     \
  X(kMinimum, "minimum")     \
  X(kGt, "gt")               \
  X(kLt, "lt")               \
  X(kGe, "ge")               \
  X(kLe, "le")               \
  X(kEq, "eq")

#define BP_REDUCE_OP_LIST(X) \
  X(kSum, "sum")             \
  X(kMean, "mean")           \
  X(kMax, "max")             \
  X(kMin, "min")

#define BP_RNN_CELL_LIST(X) \
  X(kRnnTanh, "rnnTanh")    \
  X(kRnnRelu, "rnnRelu")    \
  X(kLstm, "lstm")          \
  X(kGru, "gru")

namespace bp {

#define BP_OP_ENUMERATOR(code, name) code,
#define BP_OP_NAME(code, name) name,

enum UnaryCode : int { BP_UNARY_OP_LIST(BP_OP_ENUMERATOR) kUnaryCount };
enum BinaryCode : int { BP_BINARY_OP_LIST(BP_OP_ENUMERATOR) kBinaryCount };
enum ReduceCode : int { BP_REDUCE_OP_LIST(BP_OP_ENUMERATOR) kReduceCount };
enum CellCode : int { BP_RNN_CELL_LIST(BP_OP_ENUMERATOR) kCellCount };

// Indexed by code; namespace-scope constants have internal linkage, so every unit that includes
// this header gets its own (unused ones cost nothing).
constexpr const char* kUnaryNames[] = {BP_UNARY_OP_LIST(BP_OP_NAME)};
constexpr const char* kBinaryNames[] = {BP_BINARY_OP_LIST(BP_OP_NAME)};
constexpr const char* kReduceNames[] = {BP_REDUCE_OP_LIST(BP_OP_NAME)};
constexpr const char* kCellNames[] = {BP_RNN_CELL_LIST(BP_OP_NAME)};

#undef BP_OP_ENUMERATOR
#undef BP_OP_NAME

}  // namespace bp
