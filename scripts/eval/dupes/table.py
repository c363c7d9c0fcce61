import sys
t=float(sys.argv[2])
rows=[l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.startswith(('tune','check'))]
undec=[r for r in rows if len(r)<8]
rows=[r for r in rows if len(r)>=8]; undec=[r for r in undec if len(r)==4]
def W(r): return float(r[4].split()[1])
from collections import Counter
print('| set | pairs | old rule (dbf2578): grouped | now: same recording | now: alike | not grouped, fingerprints differ | not grouped, no fingerprint |')
print('|---|---|---|---|---|---|---|')
for s in ['tune','check']:
  for truth in ['copy','distinct']:
    R=[r for r in rows if r[0]==s and r[1]==truth]
    old=sum(r[5].startswith(('Same','Alike')) for r in R)
    same=sum(r[5].startswith('Same') and (W(r)>=t or 'waveform: 1.0 }' in r[5]) for r in R)
    alike=sum(r[5].startswith(('Same','Alike')) for r in R)-same
    diff=sum(r[5]=='Different' for r in R); unk=sum(r[5]=='Unknown' for r in R)
    print(f'| {s} {truth} | {len(R)} | {old} | {same} | {alike} | {diff} | {unk} |')
print('undecodable',[(r[0],r[1],r[2]) for r in undec])
for r in rows:
  if r[5].startswith(('Same','Alike')) and not ('waveform: 1.0 }' in r[5]):
    w=W(r)
    if (r[1]=='copy' and w<t) or (r[1]=='distinct'): print(r[0],r[1],r[2],r[3],r[4],r[6].split('/')[-1],r[7].split('/')[-1])
