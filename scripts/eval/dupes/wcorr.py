import numpy as np, json, sys
import os
D=os.environ.get("DUPES_DIR","target/eval-dupes")
from proto import load
def wc(a,b):
    n=1<<int(np.ceil(np.log2(len(a)+len(b))))
    c=np.fft.irfft(np.fft.rfft(a,n)*np.conj(np.fft.rfft(b,n)),n)
    return c.max()/np.sqrt(np.dot(a,a)*np.dot(b,b)+1e-20)
def main():
  pairs=json.load(open(D+'/pairs.json'))[sys.argv[1]]
  out=[]
  for lab,a,b in pairs[sys.argv[2]]:
    out.append((wc(load(a),load(b)),lab,a.split('/')[-1],b.split('/')[-1]))
  json.dump(out,open(D+f'/wcorr_{sys.argv[1]}_{sys.argv[2]}.json','w'))
  for x in sorted(out,reverse=True)[:10]: print('%.3f'%x[0],*x[1:])
  for x in sorted(out)[:25]: print('%.3f'%x[0],*x[1:])
if __name__=='__main__': main()
