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
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <string>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace {

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

// out (rows, cols) = a (rows, inner) · b (inner, cols), on the calling thread.
void matmul(const float* a, const float* b, float* out, Index rows, Index inner, Index cols) {
  Eigen::array<Eigen::IndexPair<Index>, 1> dims = {Eigen::IndexPair<Index>(1, 0)};
  Matrix(out, rows, cols) = ConstMatrix(a, rows, inner).contract(ConstMatrix(b, inner, cols), dims);
}

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

class RecurrentLoopForward : public RecurrentLoopKernel {
 public:
  using RecurrentLoopKernel::RecurrentLoopKernel;

  void Compute(OpKernelContext* ctx) override {
    const Tensor& xp_t = ctx->input(0);
    const Tensor& u_t = ctx->input(1);
    OP_REQUIRES(ctx, xp_t.dims() == 3 && u_t.dims() == 2,
                tensorflow::errors::InvalidArgument("xp must be (T, B, kH) and u (H, kH)"));
    const Index T = xp_t.dim_size(0), B = xp_t.dim_size(1), H = u_t.dim_size(0);
    const Index kH = cell_.gates() * H, sH = cell_.saved_width() * H;
    OP_REQUIRES(ctx, xp_t.dim_size(2) == kH && u_t.dim_size(1) == kH,
                tensorflow::errors::InvalidArgument("xp and u widths must be k * units"));
    const float* xp = xp_t.flat<float>().data();
    const float* u = u_t.flat<float>().data();
    const Tensor& mask_t = ctx->input(5);
    const bool masked = mask_t.NumElements() > 0;
    OP_REQUIRES(ctx, !masked || (mask_t.dims() == 2 && mask_t.dim_size(0) == T &&
                                 mask_t.dim_size(1) == B),
                tensorflow::errors::InvalidArgument("mask must be (T, B)"));
    OP_REQUIRES(ctx, ctx->input(2).NumElements() == B * H && ctx->input(3).NumElements() == B * H,
                tensorflow::errors::InvalidArgument("h0 and c0 must be (B, H)"));
    OP_REQUIRES(ctx, ctx->input(4).NumElements() == kH,
                tensorflow::errors::InvalidArgument("bias_h must be (kH,)"));
    const float* mask = masked ? mask_t.flat<float>().data() : nullptr;
    const float* bias = ctx->input(4).flat<float>().data();
    const Tensor& rmask_t = ctx->input(6);
    const bool dropped = rmask_t.NumElements() > 0;
    OP_REQUIRES(ctx, !dropped || rmask_t.NumElements() == B * H,
                tensorflow::errors::InvalidArgument("recurrent_mask must be (B, H)"));
    const float* rmask = dropped ? rmask_t.flat<float>().data() : nullptr;

    Tensor *outputs, *h_final, *c_final, *saved, *prev_h, *prev_c;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({T, B, H}), &outputs));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B, H}), &h_final));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B, H}), &c_final));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({T, B, sH}), &saved));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, TensorShape({T, B, H}), &prev_h));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, TensorShape({lstm_ ? T : 0, B, H}), &prev_c));
    Tensor z_t, hn_t, cn_t, hd_t;  // h̃ U (B, kH); the step's new h and c; h̃ = m ⊙ h
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, kH}), &z_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, H}), &hn_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, H}), &cn_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT,
                                           TensorShape({dropped ? B : 0, H}), &hd_t));

    float* out = outputs->flat<float>().data();
    float* h = h_final->flat<float>().data();
    float* c = c_final->flat<float>().data();
    float* sv = saved->flat<float>().data();
    float* ph = prev_h->flat<float>().data();
    float* pc = prev_c->flat<float>().data();
    float* z = z_t.flat<float>().data();
    float* hn = hn_t.flat<float>().data();
    float* cn = cn_t.flat<float>().data();
    float* hd = hd_t.flat<float>().data();
    std::copy_n(ctx->input(2).flat<float>().data(), B * H, h);
    std::copy_n(ctx->input(3).flat<float>().data(), B * H, c);
    const CPUDevice& d = ctx->eigen_device<CPUDevice>();

    over_row_blocks(d, B, [&](Index b0, Index b1) {
      const Index rows = b1 - b0;
      for (Index t = 0; t < T; ++t) {
        std::copy_n(h + b0 * H, rows * H, ph + (t * B + b0) * H);
        if (lstm_) std::copy_n(c + b0 * H, rows * H, pc + (t * B + b0) * H);
        if (dropped) {
          Array(hd + b0 * H, rows * H) =
              ConstArray(h + b0 * H, rows * H) * ConstArray(rmask + b0 * H, rows * H);
          matmul(hd + b0 * H, u, z + b0 * kH, rows, H, kH);
        } else {
          matmul(h + b0 * H, u, z + b0 * kH, rows, H, kH);
        }
        const float* x = xp + t * B * kH;
        float* keep = sv + t * B * sH;
        float* o_t = out + t * B * H;
        const float* o_prev = t > 0 ? out + (t - 1) * B * H : nullptr;
        const float* m_t = masked ? mask + t * B : nullptr;
        for (Index b = b0; b < b1; ++b) {
          // The gates with Eigen's vectorised logistic/tanh (the functors TF's own
          // Sigmoid and Tanh kernels use).
          ConstArray x_b(x + b * kH, kH), z_b(z + b * kH, kH);
          Array keep_b(keep + b * sH, sH), h_new(hn + b * H, H), c_new(cn + b * H, H);
          Array h_b(h + b * H, H), c_b(c + b * H, H);
          if (lstm_) {
            keep_b.segment(0, 2 * H) = (x_b.head(2 * H) + z_b.head(2 * H)).logistic();
            keep_b.segment(2 * H, H) = (x_b.segment(2 * H, H) + z_b.segment(2 * H, H)).tanh();
            keep_b.segment(3 * H, H) = (x_b.segment(3 * H, H) + z_b.segment(3 * H, H)).logistic();
            c_new = keep_b.segment(H, H) * c_b + keep_b.head(H) * keep_b.segment(2 * H, H);
            keep_b.segment(4 * H, H) = c_new.tanh();
            h_new = keep_b.segment(3 * H, H) * keep_b.segment(4 * H, H);
          } else if (cell_.kind == Cell::kElman) {
            if (cell_.activation == Cell::kTanh) {
              keep_b = (x_b + z_b).tanh();
            } else if (cell_.activation == Cell::kRelu) {
              keep_b = (x_b + z_b).max(0.0f);
            } else {
              keep_b = x_b + z_b;
            }
            h_new = keep_b;
          } else {
            ConstArray bias_a(bias, kH);
            keep_b.segment(3 * H, H) = z_b.segment(2 * H, H) + bias_a.segment(2 * H, H);
            keep_b.head(2 * H) = (x_b.head(2 * H) + z_b.head(2 * H) + bias_a.head(2 * H)).logistic();
            keep_b.segment(2 * H, H) =
                (x_b.segment(2 * H, H) + keep_b.segment(H, H) * keep_b.segment(3 * H, H)).tanh();
            h_new = keep_b.head(H) * h_b + (1.0f - keep_b.head(H)) * keep_b.segment(2 * H, H);
          }
          Array o_b(o_t + b * H, H);
          if (m_t && !(m_t[b] > 0.5f)) {  // masked: select the old state, never blend
            if (zero_output_ || !o_prev) {
              o_b.setZero();
            } else {
              o_b = ConstArray(o_prev + b * H, H);
            }
          } else {
            o_b = h_new;
            h_b = h_new;
            if (lstm_) c_b = c_new;
          }
        }
      }
    });
  }
};

class RecurrentLoopBackward : public RecurrentLoopKernel {
 public:
  explicit RecurrentLoopBackward(OpKernelConstruction* ctx)
      : RecurrentLoopKernel(ctx), separate_rec_(cell_.kind == Cell::kGru) {}

  // inputs: d_outputs (T,B,H), dh_final, dc_final (B,H), saved, prev_h, prev_c, u, mask,
  // recurrent_mask
  void Compute(OpKernelContext* ctx) override {
    const Tensor& d_outputs_t = ctx->input(0);
    const Tensor& u_t = ctx->input(6);
    OP_REQUIRES(ctx, d_outputs_t.dims() == 3 && u_t.dims() == 2,
                tensorflow::errors::InvalidArgument("d_outputs must be (T, B, H), u (H, kH)"));
    const Index T = d_outputs_t.dim_size(0), B = d_outputs_t.dim_size(1);
    const Index H = u_t.dim_size(0), kH = cell_.gates() * H, sH = cell_.saved_width() * H;
    const Tensor& mask_t = ctx->input(7);
    const bool masked = mask_t.NumElements() > 0;
    // The forward op's outputs, checked so that a hand-made call cannot read past them.
    const auto sized = [](const Tensor& t, Index n) { return t.NumElements() == n; };
    OP_REQUIRES(ctx, d_outputs_t.dim_size(2) == H && u_t.dim_size(1) == kH &&
                     sized(ctx->input(1), B * H) && sized(ctx->input(2), B * H) &&
                     sized(ctx->input(3), T * B * sH) && sized(ctx->input(4), T * B * H) &&
                     (!lstm_ || sized(ctx->input(5), T * B * H)) &&
                     (!masked || sized(mask_t, T * B)) &&
                     (ctx->input(8).NumElements() == 0 || sized(ctx->input(8), B * H)),
                tensorflow::errors::InvalidArgument(
                    "recurrent loop gradient: inputs do not match the forward op's shapes"));
    const float* mask = masked ? mask_t.flat<float>().data() : nullptr;
    const float* d_outputs = d_outputs_t.flat<float>().data();
    const float* saved = ctx->input(3).flat<float>().data();
    const float* prev_h = ctx->input(4).flat<float>().data();
    const float* prev_c = ctx->input(5).flat<float>().data();
    const float* u = u_t.flat<float>().data();
    const float* rmask =
        ctx->input(8).NumElements() > 0 ? ctx->input(8).flat<float>().data() : nullptr;

    Tensor *d_xp_t, *d_rec_t, *dh0_t, *dc0_t;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({T, B, kH}), &d_xp_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({separate_rec_ ? T : 0, B, kH}), &d_rec_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B, H}), &dh0_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({B, H}), &dc0_t));
    Tensor carry_t, back_t, dh_raw_t, dc_raw_t;
    for (Tensor* buffer : {&carry_t, &back_t, &dh_raw_t, &dc_raw_t}) {
      OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, H}), buffer));
    }
    float* dh_raw_buf = dh_raw_t.flat<float>().data();  // ∂L/∂h_t into the step
    float* dc_raw_buf = dc_raw_t.flat<float>().data();
    float* d_xp = d_xp_t->flat<float>().data();
    float* d_rec = d_rec_t->flat<float>().data();
    float* dh = dh0_t->flat<float>().data();
    float* dc = dc0_t->flat<float>().data();
    float* carry = carry_t.flat<float>().data();  // gradient of the repeated output
    float* back = back_t.flat<float>().data();    // dZ_t Uᵀ
    std::copy_n(ctx->input(1).flat<float>().data(), B * H, dh);
    std::copy_n(ctx->input(2).flat<float>().data(), B * H, dc);
    std::fill_n(carry, B * H, 0.0f);
    const CPUDevice& d = ctx->eigen_device<CPUDevice>();
    // Uᵀ (kH, H), once: Eigen's contraction against a transposed operand is ~2.5x
    // slower at these shapes than against a plain row-major one.
    Tensor ut_t;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({kH, H}), &ut_t));
    float* ut = ut_t.flat<float>().data();
    Matrix(ut, kH, H).device(d) = ConstMatrix(u, H, kH).shuffle(Eigen::array<int, 2>{1, 0});

    over_row_blocks(d, B, [&](Index b0, Index b1) {
      const Index rows = b1 - b0;
      for (Index t = T - 1; t >= 0; --t) {
        const float* g_out_t = d_outputs + t * B * H;
        const float* kt = saved + t * B * sH;
        const float* m_t = masked ? mask + t * B : nullptr;
        float* dz = d_xp + t * B * kH;
        float* dr = separate_rec_ ? d_rec + t * B * kH : dz;
        // Gate gradients; dh and dc become the parts that skip the step (masked rows).
        for (Index b = b0; b < b1; ++b) {
          ConstArray keep_b(kt + b * sH, sH), g_out(g_out_t + b * H, H);
          Array dz_b(dz + b * kH, kH), dr_b(dr + b * kH, kH);
          Array dh_b(dh + b * H, H), dc_b(dc + b * H, H), carry_b(carry + b * H, H);
          Array dh_raw(dh_raw_buf + b * H, H), dc_raw(dc_raw_buf + b * H, H);
          // The gradient reaching this step's new state; what skips a masked step stays
          // in dh/dc (and, for a repeated output, in carry).
          if (m_t && !(m_t[b] > 0.5f)) {  // masked: selected, no gradient through the cell
            if (zero_output_) {
              carry_b.setZero();
            } else {
              carry_b += g_out;
            }
            dz_b.setZero();
            dr_b.setZero();
            continue;
          }
          {
            dh_raw = dh_b + g_out + carry_b;
            carry_b.setZero();
            dh_b.setZero();
            if (lstm_) {
              dc_raw = dc_b;
              dc_b.setZero();
            }
          }
          if (lstm_) {
            auto i = keep_b.head(H), f = keep_b.segment(H, H), g = keep_b.segment(2 * H, H);
            auto o = keep_b.segment(3 * H, H), tc = keep_b.segment(4 * H, H);
            ConstArray c_prev(prev_c + (t * B + b) * H, H);
            dc_raw = dc_raw + dh_raw * o * (1.0f - tc * tc);  // ∂L/∂c_t
            dz_b.head(H) = dc_raw * g * i * (1.0f - i);
            dz_b.segment(H, H) = dc_raw * c_prev * f * (1.0f - f);
            dz_b.segment(2 * H, H) = dc_raw * i * (1.0f - g * g);
            dz_b.segment(3 * H, H) = dh_raw * tc * o * (1.0f - o);
            dc_b += dc_raw * f;
          } else if (cell_.kind == Cell::kElman) {
            if (cell_.activation == Cell::kTanh) {
              dz_b = dh_raw * (1.0f - keep_b * keep_b);
            } else if (cell_.activation == Cell::kRelu) {
              dz_b = dh_raw * (keep_b > 0.0f).cast<float>();
            } else {
              dz_b = dh_raw;
            }
          } else {
            auto zg = keep_b.head(H), r = keep_b.segment(H, H), n = keep_b.segment(2 * H, H);
            auto rh = keep_b.segment(3 * H, H);
            ConstArray h_prev(prev_h + (t * B + b) * H, H);
            dz_b.segment(2 * H, H) = dh_raw * (1.0f - zg) * (1.0f - n * n);
            dz_b.head(H) = dh_raw * (h_prev - n) * zg * (1.0f - zg);
            dz_b.segment(H, H) = dz_b.segment(2 * H, H) * rh * r * (1.0f - r);
            dr_b.head(2 * H) = dz_b.head(2 * H);
            dr_b.segment(2 * H, H) = dz_b.segment(2 * H, H) * r;
            dh_b += dh_raw * zg;
          }
        }
        matmul(dr + b0 * kH, ut, back + b0 * H, rows, kH, H);
        if (rmask) {
          Array(dh + b0 * H, rows * H) +=
              ConstArray(back + b0 * H, rows * H) * ConstArray(rmask + b0 * H, rows * H);
        } else {
          Array(dh + b0 * H, rows * H) += ConstArray(back + b0 * H, rows * H);
        }
      }
    });
  }

 private:
  const bool separate_rec_;  // the GRU: d_rec differs from d_xp (r scales its n part)
};

using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("GalleryRecurrentLoopForward")
    .Input("xp: float")
    .Input("u: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("bias_h: float")
    .Input("mask: float")
    .Input("recurrent_mask: float")
    .Output("outputs: float")
    .Output("h_final: float")
    .Output("c_final: float")
    .Output("saved: float")
    .Output("prev_h: float")
    .Output("prev_c: float")
    .Attr("cell: string")
    .Attr("activation: string = 'tanh'")
    .Attr("zero_output: bool = false")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle xp = c->input(0), u = c->input(1);
      auto T = c->Dim(xp, 0), B = c->Dim(xp, 1), H = c->Dim(u, 0);
      c->set_output(0, c->MakeShape({T, B, H}));
      c->set_output(1, c->MakeShape({B, H}));
      c->set_output(2, c->MakeShape({B, H}));
      c->set_output(3, c->MakeShape({T, B, c->UnknownDim()}));
      c->set_output(4, c->MakeShape({T, B, H}));
      c->set_output(5, c->MakeShape({c->UnknownDim(), B, H}));
      return absl::OkStatus();
    });

REGISTER_OP("GalleryRecurrentLoopBackward")
    .Input("d_outputs: float")
    .Input("dh_final: float")
    .Input("dc_final: float")
    .Input("saved: float")
    .Input("prev_h: float")
    .Input("prev_c: float")
    .Input("u: float")
    .Input("mask: float")
    .Input("recurrent_mask: float")
    .Output("d_xp: float")
    .Output("d_rec: float")
    .Output("dh0: float")
    .Output("dc0: float")
    .Attr("cell: string")
    .Attr("activation: string = 'tanh'")
    .Attr("zero_output: bool = false")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle g = c->input(0), u = c->input(6);
      auto T = c->Dim(g, 0), B = c->Dim(g, 1);
      c->set_output(0, c->MakeShape({T, B, c->Dim(u, 1)}));
      c->set_output(1, c->MakeShape({c->UnknownDim(), B, c->Dim(u, 1)}));
      c->set_output(2, c->MakeShape({B, c->Dim(u, 0)}));
      c->set_output(3, c->MakeShape({B, c->Dim(u, 0)}));
      return absl::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("GalleryRecurrentLoopForward").Device(tensorflow::DEVICE_CPU),
                        RecurrentLoopForward);
REGISTER_KERNEL_BUILDER(Name("GalleryRecurrentLoopBackward").Device(tensorflow::DEVICE_CPU),
                        RecurrentLoopBackward);

}  // namespace
