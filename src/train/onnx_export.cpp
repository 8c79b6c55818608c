#include "train/onnx_export.h"

#include "core/file.h"
#include "onnx_subset.pb.h"

namespace cc {

namespace {

namespace ox = clipclap::onnx;

void add_tensor(ox::GraphProto* g, const std::string& name, std::vector<int64_t> dims, const float* data, size_t n) {
  ox::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(ox::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->mutable_float_data()->Add(data, data + n);
}

void add_linear(ox::GraphProto* g, const std::string& name, const Linear& l) {
  const std::vector<float> w = plain_weight(l);  // a packed model keeps no [out, in] copy
  add_tensor(g, name + ".weight", {l.out, l.in}, w.data(), w.size());
  if (l.bias) add_tensor(g, name + ".bias", {l.out}, l.bias, l.out);
}

// Gemm(x, W, b) with transB = 1: x · Wᵀ + b, W in nn.Linear's [out, in] layout.
void add_gemm(ox::GraphProto* g, const std::string& x, const std::string& name, bool bias, const std::string& y) {
  ox::NodeProto* n = g->add_node();
  n->set_op_type("Gemm");
  n->set_name(name);
  n->add_input(x);
  n->add_input(name + ".weight");
  if (bias) n->add_input(name + ".bias");
  n->add_output(y);
  ox::AttributeProto* a = n->add_attribute();
  a->set_name("transB");
  a->set_type(ox::AttributeProto::INT);
  a->set_i(1);
}

void add_io(ox::ValueInfoProto* v, const std::string& name, int64_t dim) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(ox::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_param("batch");
  t->mutable_shape()->add_dim()->set_dim_value(dim);
}

}  // namespace

Status write_audio_projection_onnx(const std::string& path, const ProjectionHead& head, const Projection& p) {
  const Linear &l1 = head.linear1, &l2 = head.linear2;
  if (head.act != Activation::kRelu) return error("only a ReLU projection head can be exported");
  if (l1.out != l2.in || l2.out != p.in)
    return error("audio projection shapes do not chain: " + std::to_string(l1.in) + "->" + std::to_string(l1.out) + ", " +
                 std::to_string(l2.in) + "->" + std::to_string(l2.out) + ", " + std::to_string(p.in) + "->" +
                 std::to_string(p.out));
  ox::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("clipclap");
  model.set_producer_version("0.1");
  ox::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(14);
  ox::GraphProto* g = model.mutable_graph();
  g->set_name("audio_projection");
  add_io(g->add_input(), "input", l1.in);
  add_io(g->add_output(), "output", p.out);

  add_linear(g, "audio_projection.linear1", l1);
  add_linear(g, "audio_projection.linear2", l2);
  const std::vector<float> w(p.w.begin(), p.w.end()), b(p.b.begin(), p.b.end());
  add_tensor(g, "projection.weight", {p.out, p.in}, w.data(), w.size());
  if (p.bias) add_tensor(g, "projection.bias", {p.out}, b.data(), b.size());

  add_gemm(g, "input", "audio_projection.linear1", l1.bias != nullptr, "hidden");
  ox::NodeProto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->set_name("relu");
  relu->add_input("hidden");
  relu->add_output("hidden_relu");
  add_gemm(g, "hidden_relu", "audio_projection.linear2", l2.bias != nullptr, "clap_embedding");
  ox::NodeProto* norm = g->add_node();
  norm->set_op_type("LpNormalization");
  norm->set_name("l2");
  norm->add_input("clap_embedding");
  norm->add_output("clap_unit");
  for (auto [name, value] : {std::pair{"axis", 1}, std::pair{"p", 2}}) {
    ox::AttributeProto* a = norm->add_attribute();
    a->set_name(name);
    a->set_type(ox::AttributeProto::INT);
    a->set_i(value);
  }
  add_gemm(g, "clap_unit", "projection", p.bias, "output");

  std::string bytes;
  if (!model.SerializeToString(&bytes)) return error(path + ": could not serialise the ONNX model");
  return write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace cc
