// The backward op, GalleryRecurrentLoopBackward: the gradients of the forward op's
// loop, t = T−1 … 0, each thread for its own block of batch rows. Equations, shapes
// and masking rules: recurrent_loop.h.
#include "recurrent_loop.h"

namespace gallery {
namespace {

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

REGISTER_KERNEL_BUILDER(Name("GalleryRecurrentLoopBackward").Device(tensorflow::DEVICE_CPU),
                        RecurrentLoopBackward);

}  // namespace
}  // namespace gallery
