// The forward op, GalleryRecurrentLoopForward: all T steps of the LSTM, GRU or Elman
// cell, each thread for its own block of batch rows, keeping what the backward op
// reads (saved_t, the previous states). Equations, shapes and masking rules:
// recurrent_loop.h.
#include "recurrent_loop.h"

namespace gallery {

// Declared in recurrent_loop.h; used by both ops.
void matmul(const float* a, const float* b, float* out, Index rows, Index inner, Index cols) {
  Eigen::array<Eigen::IndexPair<Index>, 1> dims = {Eigen::IndexPair<Index>(1, 0)};
  Matrix(out, rows, cols) = ConstMatrix(a, rows, inner).contract(ConstMatrix(b, inner, cols), dims);
}

namespace {

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

REGISTER_KERNEL_BUILDER(Name("GalleryRecurrentLoopForward").Device(tensorflow::DEVICE_CPU),
                        RecurrentLoopForward);

}  // namespace
}  // namespace gallery
