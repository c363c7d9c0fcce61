"""MSD + MTT on fewer patches: which 4 + 4 split of the 8 patches keeps the MSD+MTT gain.

Reads the per-patch `penultimate` rows dumped by `dump_variants` (pool/<set>.jsonl for MSD,
pool/mtt/<set>.jsonl for MTT) and prints leave-one-out p@5 with the paired difference to MSD on
all 8 patches (200 bootstrap resamples of the queries), for: 8 + 8, 4 + 4 on the odd / even
patches, 4 + 4 interleaved (MSD even, MTT odd: what `musicnn@2` ships), 8 + 4.

    cd target/scratch/pool && python scripts/eval/split_patches.py realmusic drums sonicpi gm styles styles_b realmp3
"""
import json, sys, numpy as np
def load(p): return {json.loads(l)['path']:json.loads(l) for l in open(p)}
for s in sys.argv[1:]:
    a=load(f'{s}.jsonl'); b=load(f'mtt/{s}.jsonl')
    paths=sorted(set(a)&set(b)); labels=np.array([a[p]['label'] for p in paths])
    def l2(X): X=np.asarray(X,float); return X/np.maximum(np.linalg.norm(X,axis=-1,keepdims=True),1e-12)
    def pen(d,key,sel):
        out=[]
        for p in paths:
            P=np.array(d[p][key]['pen_patches'],float)
            n=len(P); idx=sel(n); out.append(P[idx].mean(axis=0))
        return l2(np.array(out))
    allp=lambda n: list(range(n))
    odd=lambda n: list(range(1,n,2)) if n>=2 else list(range(n))
    ev=lambda n: list(range(0,n,2))
    def p5(X):
        S=X@X.T; np.fill_diagonal(S,-np.inf); top=np.argsort(-S,axis=1,kind='stable')[:,:5]
        return (labels[top]==labels[:,None]).mean(axis=1)
    base=p5(pen(a,'msd',allp))
    rows={'msd8':base,'msd+mtt 8+8':p5(l2(np.hstack([pen(a,'msd',allp),pen(b,'mtt',allp)]))),
          'msd+mtt 4+4 odd':p5(l2(np.hstack([pen(a,'msd',odd),pen(b,'mtt',odd)]))),
          'msd+mtt 4+4 even':p5(l2(np.hstack([pen(a,'msd',ev),pen(b,'mtt',ev)]))),
          'msd+mtt 4+4 interleaved':p5(l2(np.hstack([pen(a,'msd',ev),pen(b,'mtt',odd)]))),
          'msd 8 + mtt 4':p5(l2(np.hstack([pen(a,'msd',allp),pen(b,'mtt',odd)]))),
          'msd4 odd':p5(pen(a,'msd',odd))}
    rng=np.random.default_rng(1); n=len(paths); idx=rng.integers(0,n,(200,n))
    print(s, n)
    for k,v in rows.items():
        d=(v-base)[idx].mean(axis=1)
        print(f"   {k:26s} p@5 {v.mean():.3f}  vs msd8 {d.mean():+.3f} [{np.percentile(d,5):+.3f},{np.percentile(d,95):+.3f}]")
