import numpy as np, json, sys
import os
D=os.environ.get("DUPES_DIR","target/eval-dupes")
from proto import load, bandpass, SR
def sig(x,P):
    lo,hi,D,L,K=P['lo'],P['hi'],P['D'],P['L'],P['K']
    if P.get('pre'): x=np.diff(x,prepend=0.0)
    yf=np.convolve(x,bandpass(lo,hi),mode='same')   # full rate
    H=L*D//8                                         # hop at full rate
    nf=max(1,len(yf)//H)
    E=np.add.reduceat(yf[:nf*H]**2,np.arange(0,nf*H,H)) if nf*H>0 else np.zeros(1)
    win=8
    S=np.convolve(E,np.ones(win),mode='full')[win-1:]
    if P.get('dom'):
        R=max(1,int(P['dom']*SR/H))
        dom=[i for i in range(len(S)) if S[i]>0 and S[i]==S[max(0,i-R):i+R+1].max() and (i==0 or S[i-1]<S[i])]
        t0=int(4*SR/H)
        late=[i for i in dom if i>=t0]; early=[i for i in dom if i<t0]
        picks=late[:K]
        if len(picks)<K: picks=sorted(early,key=lambda i:-S[i])[:K-len(picks)]+picks
        order=np.argsort(-S,kind='stable'); g=[]
        for i in order:
            if all(abs(i-j)>=win for j in g): g.append(i)
            if len(g)==P.get('Kg',0): break
        picks=sorted(set(picks)|set(g))
    else:
      order=np.argsort(-S,kind='stable'); picks=[]
      for i in order:
        if all(abs(i-j)>=win for j in picks): picks.append(i)
        if len(picks)==K: break
    out=[]
    for i in picks:
        s0=i*H; s1=min(len(yf),s0+L*D)
        if P.get('peak'):
            a=s0+int(np.argmax(np.abs(yf[s0:s1])))   # content-defined decimation phase
            start=max(0,a-(L*D)//4)
            start=a-((a-start)//D)*D
        else:
            start=s0
        if P.get('white'):
            raw=x[start:start+L*D]
            X=np.fft.rfft(raw,L*D); f=np.fft.rfftfreq(L*D,1/SR)
            X[(f<lo)|(f>hi)]=0; m=np.abs(X); X=X/(m+1e-3*m.max()+1e-12)**P.get("beta",1.0)
            seg=np.fft.irfft(X,L*D)[:len(raw)][::D]
        else:
            seg=yf[start:start+L*D:D]
        out.append((start,np.sign(seg)))
    return out
def xc(sa,sb,W):
    best=-1; bl=0; vals={}
    for l in range(-W,W+1):
        i0=max(0,-l); i1=min(len(sa),len(sb)-l)
        if i1-i0 < min(len(sa),len(sb))//2: continue
        vals[l]=np.dot(sa[i0:i1],sb[i0+l:i1+l])/(i1-i0)
    if not vals: return -1
    bl=max(vals,key=vals.get); c=vals[bl]
    if P_.get('parab') and bl-1 in vals and bl+1 in vals:
        y0,y1,y2=vals[bl-1],c,vals[bl+1]; den=y0-2*y1+y2
        if den<0: c=y1-(y2-y0)**2/(8*den)
    return c
P_={}
def cmp(a,b,P):
    return max(xc(sa,sb,P['W']) for _,sa in a for _,sb in b)
def run(P,which,show=6):
    P_.update(P)
    pairs=json.load(open(D+'/pairs.json'))[which]
    ref={}
    for t in ['true','false']:
        try:
            for r,lab,a,b in json.load(open(D+f'/wcorr_{which}_{t}.json')): ref[(a,b)]=r
        except FileNotFoundError: pass
    res={}
    for t in ['true','false']:
        res[t]=[(cmp(sig(load(a),P),sig(load(b),P),P),lab,a,b,ref.get((a.split('/')[-1],b.split('/')[-1]))) for lab,a,b in pairs[t]]
    tv=np.array([x[0] for x in res['true']]);
    fv=np.array([x[0] for x in res['false'] if x[4] is None or x[4]<0.5])
    print(P,which,'true min %.3f p5 %.3f | false(ref<0.5) max %.3f p95 %.3f'%(tv.min(),np.percentile(tv,5),fv.max(),np.percentile(fv,95)))
    for t in ['true','false']:
        r=sorted(res[t],key=lambda x:x[0],reverse=(t=='false'))
        if t=='false': r=[x for x in r if x[4] is None or x[4]<0.5]
        for x in r[:show]: print(' ',t,'%.3f'%x[0],'ref',x[4] if x[4] is None else '%.2f'%x[4],x[1],x[3].split('/')[-1])
    return res
if __name__=='__main__':
    P=json.loads(sys.argv[1]); run(P,sys.argv[2])
