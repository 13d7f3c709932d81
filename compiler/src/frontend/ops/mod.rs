//! The converter registry: one builder function per ONNX op type, grouped
//! by family. A converter reads its node's attributes and operands, infers
//! the output shape, and appends front-end nodes; it returns
//! `CompileError::Unsupported` when an operand that must be constant is not.

pub mod activation;
pub mod bitwise;
pub mod compare;
pub mod elementwise;
pub mod fold;
pub mod indexed;
pub mod linear;
pub mod masked;
pub mod ml;
pub mod movement;
pub mod nonlinear;
pub mod norm;
pub mod pool;
pub mod qop;
pub mod quant;
pub mod recurrent;
pub mod reduce;
pub mod shape;

use crate::error::Result;
use crate::frontend::graph::ValueId;
use crate::frontend::{Builder, NodeCtx};

/// Converts one node; returns the values of its outputs, in order (outputs
/// past the returned ones, e.g. Dropout's mask, are unsupported if used).
pub type Converter = fn(&mut Builder, &NodeCtx) -> Result<Vec<ValueId>>;

pub fn converter(op_type: &str) -> Option<Converter> {
    Some(match op_type {
        "Gemm" => linear::gemm,
        "MatMul" => linear::matmul,
        "Conv" => linear::conv,
        "ConvTranspose" => linear::conv_transpose,
        "Einsum" => linear::einsum,
        "MatMulInteger" => linear::matmul_integer,
        "MaxPool" => pool::max_pool,
        "AveragePool" => pool::average_pool,
        "GlobalAveragePool" => pool::global_average_pool,
        "GlobalMaxPool" => pool::global_max_pool,
        "Add" => elementwise::add,
        "Sub" => elementwise::sub,
        "Mul" => elementwise::mul,
        "Div" => elementwise::div,
        "Relu" => elementwise::relu,
        "BatchNormalization" => norm::batch_norm,
        "Identity" | "Dropout" => shape::identity,
        "Cast" => shape::cast,
        "Size" => shape::size,
        "Sum" => elementwise::sum,
        "Mean" => elementwise::mean,
        "Max" => elementwise::max,
        "Min" => elementwise::min,
        "CastLike" => shape::cast_like,
        "Constant" => shape::constant,
        "Reshape" => shape::reshape,
        "Flatten" => shape::flatten,
        "Squeeze" => shape::squeeze,
        "Unsqueeze" => shape::unsqueeze,
        "Transpose" => shape::transpose,
        "Concat" => shape::concat,
        "Expand" => shape::expand,
        "Tile" => shape::tile,
        "Gather" => shape::gather,
        "Slice" => shape::slice,
        "Shape" => shape::shape,
        "ConstantOfShape" => shape::constant_of_shape,
        // Compile-time only: constant operands (see `fold`).
        "NonZero" => fold::non_zero,
        "Range" => fold::range,
        "Mod" => fold::modulo,
        "CumSum" => fold::cum_sum,
        "ReduceProd" => fold::reduce_prod,
        "Pad" => shape::pad,
        "RNN" => recurrent::rnn,
        "GRU" => recurrent::gru,
        "LSTM" => recurrent::lstm,
        "Sigmoid" => nonlinear::sigmoid,
        "Tanh" => nonlinear::tanh,
        "Exp" => nonlinear::exp,
        "Log" => nonlinear::log,
        "Erf" => nonlinear::erf,
        "Softplus" => nonlinear::softplus,
        "Softsign" => nonlinear::softsign,
        "Mish" => nonlinear::mish,
        "Sqrt" => nonlinear::sqrt,
        "Reciprocal" => nonlinear::reciprocal,
        "Sin" => nonlinear::sin,
        "Cos" => nonlinear::cos,
        "Atan" => nonlinear::atan,
        "Tan" => nonlinear::tan,
        "Asin" => nonlinear::asin,
        "Acos" => nonlinear::acos,
        "Sign" => nonlinear::sign,
        "Round" => nonlinear::round,
        "Floor" => nonlinear::floor,
        "Ceil" => nonlinear::ceil,
        "Elu" => nonlinear::elu,
        "Celu" => nonlinear::celu,
        "Selu" => nonlinear::selu,
        "Gelu" => nonlinear::gelu,
        "Pow" => nonlinear::pow,
        "Softmax" => nonlinear::softmax,
        "LogSoftmax" => nonlinear::log_softmax,
        "LayerNormalization" => nonlinear::layer_norm,
        "InstanceNormalization" => nonlinear::instance_norm,
        "Neg" => activation::neg,
        "Abs" => activation::abs,
        "LeakyRelu" => activation::leaky_relu,
        // relu(x) - slope·relu(-x): exact in quantized graphs too (lower_quant).
        "PRelu" => quant::prelu,
        "Clip" => activation::clip,
        "HardSigmoid" => activation::hard_sigmoid,
        "HardSwish" => activation::hard_swish,
        "ReduceSum" => reduce::reduce_sum,
        "ReduceMean" => reduce::reduce_mean,
        "ReduceMax" => reduce::reduce_max,
        "ReduceMin" => reduce::reduce_min,
        "ReduceL1" => reduce::reduce_l1,
        "ReduceSumSquare" => reduce::reduce_sum_square,
        "ReduceL2" => reduce::reduce_l2,
        "ReduceLogSumExp" => reduce::reduce_log_sum_exp,
        "OneHot" => indexed::one_hot,
        "GatherElements" => indexed::gather_elements,
        "GatherND" => indexed::gather_nd,
        "ScatterElements" => indexed::scatter_elements,
        "ScatterND" => indexed::scatter_nd,
        "TopK" => indexed::top_k,
        "Trilu" => movement::trilu,
        "Split" => movement::split,
        "Resize" | "Upsample" => movement::resize,
        "Where" => movement::where_op,
        "Greater" => compare::greater,
        "Less" => compare::less,
        "GreaterOrEqual" => compare::greater_or_equal,
        "LessOrEqual" => compare::less_or_equal,
        "Equal" => compare::equal,
        "Not" => compare::not,
        "And" => compare::and,
        "Or" => compare::or,
        "Xor" => compare::xor,
        "ArgMax" | "ArgMin" => compare::arg_max,
        "QuantizeLinear" => quant::quantize_linear,
        "DequantizeLinear" => quant::dequantize_linear,
        "QLinearMatMul" => quant::qlinear_matmul,
        "QLinearConv" => quant::qlinear_conv,
        "DynamicQuantizeLinear" => quant::dynamic_quantize_linear,
        "ConvInteger" => quant::conv_integer,
        "BitShift" => bitwise::bit_shift,
        _ => return None,
    })
}

pub fn is_supported(op_type: &str) -> bool {
    converter(op_type).is_some()
}

/// The ONNX domains whose ops have converters: the default one, `ai.onnx.ml`
/// and onnxruntime's quantized ops in `com.microsoft` (`qop`).
pub fn converter_in(domain: &str, op_type: &str) -> Option<Converter> {
    match domain {
        "" | "ai.onnx" => converter(op_type),
        "ai.onnx.ml" => ml::converter(op_type),
        "com.microsoft" => qop::converter(op_type),
        _ => None,
    }
}
