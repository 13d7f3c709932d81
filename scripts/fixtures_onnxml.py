"""ai.onnx.ml fixtures (scikit-learn via skl2onnx, LightGBM via onnxmltools) for issue 11.

Setup:  bash scripts/pyenv.sh && .venv/bin/pip install -r scripts/requirements-onnxml.txt
Run:    .venv/bin/python scripts/fixtures_onnxml.py
Writes tests/fixtures/real/<name>/{model.onnx,input.json,expected.json}: a fixed batch of
N=6 rows (the batch dim is dynamic; the compiler binds it from the input length), and
onnxruntime's tensor outputs in graph-output order. With ZipMap on, the probability output
is a seq(map): expected.json then holds the probability tensor ZipMap is built from.
"""
import json, os
import numpy as np
import onnx, onnxruntime as ort
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, LinearRegression
from sklearn.ensemble import RandomForestClassifier, GradientBoostingClassifier, RandomForestRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real")
N = 6

X, y = make_classification(n_samples=600, n_features=12, n_informative=6, weights=[0.9, 0.1],
                           random_state=7)
X = X.astype(np.float32)
Xr, yr = make_regression(n_samples=300, n_features=10, noise=0.5, random_state=3)
Xr = Xr.astype(np.float32)


def tensor_outputs(model, x):
    """onnxruntime outputs; a ZipMap's seq(map) is replaced by its input tensor."""
    g = model.graph
    zip_in = {n.output[0]: n.input[0] for n in g.node if n.op_type == "ZipMap"}
    names = [zip_in.get(o.name, o.name) for o in g.output]
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    for nm in names:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(nm))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(names, {g.input[0].name: x})


def save(name, model, x):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    outs = tensor_outputs(model, x)
    json.dump({"input_data": [x.reshape(-1).astype(float).tolist()]}, open(os.path.join(d, "input.json"), "w"))
    json.dump({"output_data": [np.asarray(o).reshape(-1).astype(float).tolist() for o in outs]},
              open(os.path.join(d, "expected.json"), "w"))
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{name:<28} {os.path.getsize(os.path.join(d, 'model.onnx')):>7} B  ops={ops}")


def skl(model, X, zipmap=True):
    opts = None if zipmap else {id(model): {"zipmap": False}}
    return to_onnx(model, initial_types=[("input", FloatTensorType([None, X.shape[1]]))],
                   options=opts, target_opset={"": 17, "ai.onnx.ml": 3})


lr = LogisticRegression(max_iter=500).fit(X, y)
# Both classes in the batch (the data is 90/10 imbalanced): 3 predicted negatives, 3 positives.
pred = lr.predict(X)
xs = np.concatenate([X[(y == 0) & (pred == 0)][:3], X[(y == 1) & (pred == 1)][:3]])
save("skl_logreg", skl(lr, X, zipmap=False), xs)
pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
save("skl_scaler_logreg_zipmap", skl(pipe, X, zipmap=True), xs)
from sklearn.impute import SimpleImputer
imp = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                    RandomForestClassifier(n_estimators=3, max_depth=3, random_state=1)).fit(X, y)
save("skl_imputer_scaler_forest", skl(imp, X, zipmap=False), xs)
# A categorical column (ColumnTransformer: ArrayFeatureExtractor, Cast, OneHotEncoder, Concat).
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder
Xc = X.copy()
Xc[:, 11] = (np.abs(X[:, 11] * 2).astype(int) % 4).astype(np.float32)
ct = make_pipeline(ColumnTransformer([("num", StandardScaler(), list(range(11))), ("cat", OneHotEncoder(), [11])]),
                   LogisticRegression(max_iter=500)).fit(Xc, y)
save("skl_column_transformer_onehot", skl(ct, Xc, zipmap=False),
     np.concatenate([Xc[(y == 0) & (pred == 0)][:3], Xc[(y == 1) & (pred == 1)][:3]]))
rf = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
save("skl_random_forest", skl(rf, X, zipmap=False), xs)
gb = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
save("skl_gradient_boosting", skl(gb, X, zipmap=False), xs)
X3, y3 = make_classification(n_samples=600, n_features=10, n_informative=5, n_classes=3,
                             weights=[0.8, 0.15, 0.05], random_state=11)
X3 = X3.astype(np.float32)
lr3 = LogisticRegression(max_iter=500).fit(X3, y3)
save("skl_logreg_3class", skl(lr3, X3, zipmap=False), np.concatenate([X3[y3 == k][:2] for k in range(3)]))
reg = LinearRegression().fit(Xr, yr)
save("skl_linear_regression", skl(reg, Xr), Xr[:N])
rfr = RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0).fit(Xr, yr)
save("skl_random_forest_regressor", skl(rfr, Xr), Xr[:N])

try:
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType as MFloat
    clf = lgb.LGBMClassifier(n_estimators=8, num_leaves=8, random_state=0, verbose=-1).fit(X, y)
    m = convert_lightgbm(clf, initial_types=[("input", MFloat([None, X.shape[1]]))], target_opset=15,
                         zipmap=False)
    save("lgbm_classifier", m, xs)
except Exception as e:  # pragma: no cover
    print("lightgbm skipped:", e)

try:
    import xgboost as xgb
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType as MFloat
    clf = xgb.XGBClassifier(n_estimators=8, max_depth=3, random_state=0).fit(X, y)
    m = convert_xgboost(clf, initial_types=[("input", MFloat([None, X.shape[1]]))], target_opset=15)
    save("xgb_classifier", m, xs)
except Exception as e:  # pragma: no cover
    print("xgboost skipped:", e)

# Hand-built models (onnx.helper) for what the exporters above do not emit here:
# one-row binary LinearClassifier, Binarizer, Normalizer MAX/L2, BRANCH_LT/GTE/GT trees,
# labels that are not 0..C-1.
from onnx import helper, TensorProto

rng = np.random.default_rng(5)


def ml_model(nodes, f, outputs):
    g = helper.make_graph(nodes, "ml", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, f])],
                          [helper.make_tensor_value_info(n, t, [None, None] if n != "label" else [None]) for n, t in outputs])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


f = 5
xh = rng.normal(size=(6, f)).astype(np.float32)
for pt in ["NONE", "LOGISTIC"]:
    lc = helper.make_node("LinearClassifier", ["input"], ["label", "probabilities"], domain="ai.onnx.ml",
                          coefficients=rng.normal(size=f).tolist(), intercepts=[0.1], classlabels_ints=[-1, 1],
                          post_transform=pt)
    save(f"ml_linear_binary_{pt.lower()}",
         ml_model([lc], f, [("label", TensorProto.INT64), ("probabilities", TensorProto.FLOAT)]), xh)
nodes = [
    helper.make_node("Scaler", ["input"], ["scaled"], domain="ai.onnx.ml", offset=[0.1] * f, scale=[2.0] * f),
    helper.make_node("Binarizer", ["scaled"], ["bin"], domain="ai.onnx.ml", threshold=0.3),
    helper.make_node("Normalizer", ["scaled"], ["l2"], domain="ai.onnx.ml", norm="L2"),
    helper.make_node("Normalizer", ["input"], ["mx"], domain="ai.onnx.ml", norm="MAX"),
]
save("ml_preprocessing", ml_model(nodes, f, [("bin", TensorProto.FLOAT), ("l2", TensorProto.FLOAT),
                                             ("mx", TensorProto.FLOAT)]), np.abs(xh) + 0.05)
# Two trees of depth 2 with BRANCH_LT/GTE/GT/LEQ, 3 classes labelled 3, 7, 20, SOFTMAX.
tree = dict(
    nodes_treeids=[0] * 7 + [1] * 5,
    nodes_nodeids=list(range(7)) + list(range(5)),
    nodes_featureids=[0, 1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0],
    nodes_modes=["BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "LEAF", "LEAF", "LEAF", "LEAF",
                 "BRANCH_LEQ", "LEAF", "BRANCH_GT", "LEAF", "LEAF"],
    nodes_values=[0.2, -0.3, 0.5, 0, 0, 0, 0, 0.1, 0, -0.4, 0, 0],
    nodes_truenodeids=[1, 3, 5, 0, 0, 0, 0, 1, 0, 3, 0, 0],
    nodes_falsenodeids=[2, 4, 6, 0, 0, 0, 0, 2, 0, 4, 0, 0],
)
leaves = [(0, 3), (0, 4), (0, 5), (0, 6), (1, 1), (1, 3), (1, 4)]
cw = dict(class_treeids=[], class_nodeids=[], class_ids=[], class_weights=[])
for t, nid in leaves:
    for c in range(3):
        cw["class_treeids"].append(t); cw["class_nodeids"].append(nid); cw["class_ids"].append(c)
        cw["class_weights"].append(float(rng.normal()))
te = helper.make_node("TreeEnsembleClassifier", ["input"], ["label", "probabilities"], domain="ai.onnx.ml",
                      classlabels_int64s=[3, 7, 20], post_transform="SOFTMAX", base_values=[0.1, -0.2, 0.0],
                      **tree, **cw)
save("ml_tree_modes", ml_model([te], f, [("label", TensorProto.INT64), ("probabilities", TensorProto.FLOAT)]),
     rng.normal(size=(8, f)).astype(np.float32))

# TreeEnsemble (ai.onnx.ml opset 5): two trees, modes LEQ/LT/GTE/GT, 2 targets, AVERAGE.
def t5(name, vals, dt=TensorProto.FLOAT):
    return helper.make_tensor(name, dt, [len(vals)], vals)


# tree 0: node0 (f0 LT 0.2) -> node1 (f1 GTE -0.3) / node2 (f2 GT 0.5); leaves 0..3
# tree 1: node3 (f3 LEQ 0.1) -> leaf 4 / node4 (f4 GT -0.4) -> leaves 5, 6
ens = helper.make_node(
    "TreeEnsemble", ["input"], ["y"], domain="ai.onnx.ml",
    nodes_featureids=[0, 1, 2, 3, 4],
    nodes_splits=t5("s", [0.2, -0.3, 0.5, 0.1, -0.4]),
    nodes_modes=t5("m", [1, 2, 3, 0, 3], TensorProto.UINT8),
    nodes_truenodeids=[1, 0, 2, 4, 5], nodes_trueleafs=[0, 1, 1, 1, 1],
    nodes_falsenodeids=[2, 1, 3, 4, 6], nodes_falseleafs=[0, 1, 1, 0, 1],
    tree_roots=[0, 3],
    leaf_targetids=[0, 1, 0, 1, 0, 1, 0],
    leaf_weights=t5("w", rng.normal(size=7).astype(float).tolist()),
    n_targets=2, aggregate_function=0, post_transform=0,
)
g = helper.make_graph([ens], "ml5", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, f])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
m5 = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 5)])
m5.ir_version = 9
onnx.checker.check_model(m5)
save("ml_tree_ensemble_v5", m5, rng.normal(size=(8, f)).astype(np.float32))

# OneHotEncoder straight on float input: onnxruntime truncates to int64 first.
oh = helper.make_node("OneHotEncoder", ["input"], ["y"], domain="ai.onnx.ml", cats_int64s=[0, 1, 2, 3], zeros=1)
g = helper.make_graph([oh], "oh", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1, 4])])
moh = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
moh.ir_version = 8
onnx.checker.check_model(moh)
save("ml_onehot_float", moh, np.array([[1.7], [2.2], [-0.5], [3.9], [0.3], [5.4]], dtype=np.float32))
