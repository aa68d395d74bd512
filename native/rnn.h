// Fused recurrent-cell kernels: one time step of an RNN (tanh/relu), LSTM or GRU cell, forward
// and backward, over batch rows of hidden (H) units. The semantics, argument order and shapes
// are documented on the Backend interface (rnnCellForward / rnnCellBackward in
// lib/backend/types.ts) and implemented identically by lib/backend/js-rnn.ts. G = gates per
// cell: 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n).
#pragma once

#include <cstddef>

#include "exec_context.h"

namespace bp {

// Mirrors RNN_CELLS in lib/backend/types.ts.

inline size_t gatesOf(int cell) { return cell == kLstm ? 4 : cell == kGru ? 3 : 1; }

// xp, hh: batch x G*H; bHh: G*H or null; hPrev: batch x H (GRU, else may be null); cPrev, c:
// batch x H (LSTM, else null); h: batch x H; saved: batch x 4H (LSTM and GRU, else may be null).
template <typename T>
void rnnCellForward(const ExecContext& ctx, int cell, size_t batch, size_t H, const T* xp,
                    const T* hh, const T* bHh, const T* hPrev, const T* cPrev, T* h, T* c,
                    T* saved);

// Arrays as for rnnCellForward, plus gh, ghPrev: batch x H; ghNext, gcNext: batch x H or null;
// gxp: batch x G*H; ghh: batch x G*H (GRU, else null); gcPrev: batch x H (LSTM, else null).
// ghPrev may be ghNext and gcPrev may be gcNext. Keeps a row buffer in workspace slot 0.
template <typename T>
void rnnCellBackward(const ExecContext& ctx, int cell, size_t batch, size_t H, const T* saved,
                     const T* hPrev, const T* cPrev, const T* c, const T* h, const T* gh,
                     const T* ghNext, const T* gcNext, T* gxp, T* ghh, T* ghPrev, T* gcPrev);

}  // namespace bp
