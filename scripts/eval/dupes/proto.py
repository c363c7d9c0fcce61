import numpy as np, subprocess, json, sys, functools
import os
D=os.environ.get("DUPES_DIR","target/eval-dupes")
SR=22050
@functools.lru_cache(maxsize=None)
def load(p):
    r=subprocess.run(['ffmpeg','-v','error','-i',p,'-ac','1','-ar',str(SR),'-f','f32le','-'],capture_output=True)
    b=r.stdout if r.returncode==0 else np.zeros(4,dtype=np.float32).tobytes()
    return np.frombuffer(b,dtype=np.float32).astype(np.float64)[:120*SR]
def bandpass(lo,hi,n=255):
    t=np.arange(n)-(n-1)/2
    h=lambda f: 2*f/SR*np.sinc(2*f/SR*t)
    k=(h(hi)-(h(lo) if lo>0 else 0))*np.hamming(n)
    return k
def sig(x,P):
    lo,hi,D,L,K,W=P['lo'],P['hi'],P['D'],P['L'],P['K'],P['W']
    if P.get('pre'): x=np.diff(x,prepend=0.0)
    y=np.convolve(x,bandpass(lo,hi),mode='same')[::D]
    H=L//8
    nf=max(1,len(y)//H)
    E=np.array([np.sum(y[i*H:(i+1)*H]**2) for i in range(nf)])
    # local maxima of energy summed over the excerpt window starting at each hop
    win=L//H
    S=np.convolve(E,np.ones(win),mode='full')[win-1:]  # S[i]=sum E[i..i+win)
    order=np.argsort(-S,kind='stable')
    picks=[]
    for i in order:
        if all(abs(i-j)>=win for j in picks): picks.append(i)
        if len(picks)==K: break
    out=[]
    for i in picks:
        seg=y[i*H:i*H+L]
        out.append((i*H,np.sign(seg)))
    return out
def cmp(a,b,P):
    W=P['W']; best=-1
    for pa,sa in a:
        for pb,sb in b:
            n=min(len(sa),len(sb))
            for l in range(-W,W+1):
                # sa[k] vs sb[k+l]
                i0=max(0,-l); i1=min(len(sa),len(sb)-l)
                if i1-i0 < n//2: continue
                c=np.dot(sa[i0:i1],sb[i0+l:i1+l])/(i1-i0)
                best=max(best,c)
    return best
def run(P,which):
    pairs=json.load(open(D+'/pairs.json'))[which]
    res={}
    for t in ['true','false']:
        r=[]
        for lab,a,b in pairs[t]:
            r.append((cmp(sig(load(a),P),sig(load(b),P),P),lab,a,b))
        res[t]=r
    tv=np.array([x[0] for x in res['true']]); fv=np.array([x[0] for x in res['false']])
    print(P,which,'true min %.3f p5 %.3f | false max %.3f p95 %.3f'%(tv.min(),np.percentile(tv,5),fv.max(),np.percentile(fv,95)))
    return res
if __name__=='__main__':
    P=dict(lo=float(sys.argv[1]),hi=float(sys.argv[2]),D=int(sys.argv[3]),L=int(sys.argv[4]),K=int(sys.argv[5]),W=int(sys.argv[6]),pre=int(sys.argv[8]))
    res=run(P,sys.argv[7])
    for t in ['true','false']:
        r=sorted(res[t],key=lambda x:x[0],reverse=(t=='false'))
        for x in r[:8]: print(t,'%.3f'%x[0],x[1],x[3].split('/')[-1])
