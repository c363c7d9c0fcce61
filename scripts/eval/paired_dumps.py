"""Paired leave-one-out p@5 of one vector in two dump files (joined by path), with 200 bootstrap
resamples of the queries: `python paired_dumps.py A.jsonl B.jsonl [musicnn|dsp]`."""
import json, sys, numpy as np
def load(p):
    rows=[json.loads(l) for l in open(p)]
    return {r['path']:r for r in rows}
a=load(sys.argv[1]); b=load(sys.argv[2]); key=sys.argv[3] if len(sys.argv)>3 else 'musicnn'
paths=sorted(set(a)&set(b)); print(len(paths),'common')
labels=np.array([a[p]['label'] for p in paths])
def vec(d,p):
    v=d[p][key]
    if isinstance(v,list) and isinstance(v[0],dict): v=v[0].get('embedding', v[0].get('vector'))
    elif isinstance(v,list) and isinstance(v[0],list): v=v[0]
    return np.array(v,dtype=np.float64)
def pq(d):
    X=np.array([vec(d,p) for p in paths]); X/=np.linalg.norm(X,axis=1,keepdims=True)
    S=X@X.T; np.fill_diagonal(S,-np.inf)
    top=np.argsort(-S,axis=1,kind='stable')[:,:5]
    return (labels[top]==labels[:,None]).mean(axis=1)
qa,qb=pq(a),pq(b)
rng=np.random.default_rng(1); n=len(paths)
idx=rng.integers(0,n,(200,n)); d=(qb-qa)[idx].mean(axis=1)
print(f"A p@5 {qa.mean():.3f}  B p@5 {qb.mean():.3f}  B-A {d.mean():+.3f} ± {d.std():.3f} [{np.percentile(d,5):+.3f}, {np.percentile(d,95):+.3f}]")
