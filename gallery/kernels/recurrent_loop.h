// What the two ops share: the equations below, the types, the per-thread row blocks
// (over_row_blocks), and the cell and masked-output rule both ops read from their
// attributes. The forward op is in recurrent_loop_forward.cc, the backward op in
// recurrent_loop_backward.cc: two translation units that gallery/kernels/__init__.py
// compiles in parallel and links into one library.
//
// The time loops of the fused LSTM, GRU and Elman cells (gallery/layers/fused.py) as
// TensorFlow CPU kernels: one op runs all T steps, each thread for its own block of
// batch rows (see over_row_blocks), so a step costs one matmul plus one fused pass
// over the gates, with no per-step graph overhead (slices, TensorArray writes, a
// dozen small elementwise kernels).
//
// Shapes (time-major, float32):
//   xp (T, B, kH)  projected inputs x W + b      u (H, kH)  recurrent kernel
//   h0, c0 (B, H) initial states (c0 unused by the GRU)
//   bias_h (kH)   the GRU's recurrent bias (zeros for the LSTM)
//   mask (T, B)   1 = valid step, 0 = padded; shape (0, 0) for "no mask"
//   recurrent_mask (B, H)  recurrent dropout: h̃ = m ⊙ h enters the matmul, h U
//                 below meaning h̃ U; shape (0, 0) for "no dropout"
//
// LSTM, k = 4:  z = xp_t + h U;  i, f, o = σ(z_i, z_f, z_o);  g = tanh(z_g)
//               c' = f c + i g;  h' = o tanh(c')
//               saved_t = [i f g o tanh(c')]                           (B, 5H)
// GRU (reset_after), k = 3:  a = h U + b_h;  z = σ(x_z + a_z);  r = σ(x_r + a_r)
//               n = tanh(x_n + r a_n);  h' = z h + (1 − z) n
//               saved_t = [z r n a_n]                                  (B, 4H)
// Elman, k = 1:  h' = φ(xp_t + h U), φ = tanh, relu or linear;  saved_t = h'  (B, H)
// Masked step (m = 0): states unchanged; output repeats the previous output, or is
// zero with zero_output. Masked steps are selected, never blended (m·new + (1 − m)·old
// would turn NaN or inf padding into NaN), as in fused.py; the backward op gives them
// no gradient through the cell.
//
// The backward op walks t = T−1 … 0 carrying ∂L/∂h (and ∂L/∂c), returns the
// gate-input gradients dZ_t (w.r.t. xp) and, for the GRU, those w.r.t. the
// recurrent pre-activation (d_rec; for the LSTM and Elman cells d_rec = d_xp and is
// not returned separately); Python then forms dU = Σ_t h̃_{t−1}ᵀ d_rec_t as one large matmul.
// With recurrent dropout, the gradient reaching h_{t−1} through U is (d_rec_t Uᵀ) ⊙ m.
#ifndef GALLERY_KERNELS_RECURRENT_LOOP_H_
#define GALLERY_KERNELS_RECURRENT_LOOP_H_

#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <string>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace gallery {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using CPUDevice = Eigen::ThreadPoolDevice;
using Matrix = Eigen::TensorMap<Eigen::Tensor<float, 2, Eigen::RowMajor>>;
using ConstMatrix =
    Eigen::TensorMap<Eigen::Tensor<const float, 2, Eigen::RowMajor>>;
using Index = Eigen::Index;
using Array = Eigen::Map<Eigen::ArrayXf>;
using ConstArray = Eigen::Map<const Eigen::ArrayXf>;

// out (rows, cols) = a (rows, inner) · b (inner, cols), on the calling thread. Defined
// once, in recurrent_loop_forward.cc: the Eigen contraction (its blocked matrix-product
// kernels) takes about 2/3 of the whole build's compile time, and an inline definition
// here would compile it in both translation units.
void matmul(const float* a, const float* b, float* out, Index rows, Index inner, Index cols);

// Batch rows are independent through the whole recurrence (row b of h_t depends only
// on row b of h_{t-1}), so each thread runs fn(row_begin, row_end) over ALL steps for
// its own block of rows: no synchronisation per step, and one single-threaded matmul
// per step and block (at B=64, H=256 this beats a 2-thread matmul per step by ~25 %).
template <typename Fn>
void over_row_blocks(const CPUDevice& d, Index rows, Fn fn) {
  const Index blocks = std::max<Index>(1, std::min<Index>(rows, d.numThreads()));
  d.parallelFor(blocks, Eigen::TensorOpCost(1e9, 1e9, 1e9), [&](Index first, Index last) {
    for (Index k = first; k < last; ++k) fn(k * rows / blocks, (k + 1) * rows / blocks);
  });
}

// The cell the loop runs, from the ops' attributes.
struct Cell {
  enum Kind { kLstm, kGru, kElman } kind = kLstm;
  enum Activation { kTanh, kRelu, kLinear } activation = kTanh;

  tensorflow::Status Parse(OpKernelConstruction* ctx) {
    std::string cell, act;
    TF_RETURN_IF_ERROR(ctx->GetAttr("cell", &cell));
    TF_RETURN_IF_ERROR(ctx->GetAttr("activation", &act));
    if (cell != "lstm" && cell != "gru" && cell != "elman") {
      return tensorflow::errors::InvalidArgument("cell must be lstm, gru or elman");
    }
    if (act != "tanh" && act != "relu" && act != "linear") {
      return tensorflow::errors::InvalidArgument("activation must be tanh, relu or linear");
    }
    kind = cell == "lstm" ? kLstm : cell == "gru" ? kGru : kElman;
    activation = act == "tanh" ? kTanh : act == "relu" ? kRelu : kLinear;
    return absl::OkStatus();
  }
  Index gates() const { return kind == kLstm ? 4 : kind == kGru ? 3 : 1; }
  Index saved_width() const { return kind == kLstm ? 5 : kind == kGru ? 4 : 1; }
};

// What both ops read from their attributes: the cell and the masked-output rule.
class RecurrentLoopKernel : public OpKernel {
 public:
  explicit RecurrentLoopKernel(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, cell_.Parse(ctx));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("zero_output", &zero_output_));
    lstm_ = cell_.kind == Cell::kLstm;
  }

 protected:
  Cell cell_;
  bool lstm_ = false;
  bool zero_output_ = false;
};

}  // namespace gallery

#endif  // GALLERY_KERNELS_RECURRENT_LOOP_H_
