# Builds the pair lists: tune (hydrogen-data + asc-music) and check (hydrogen-drumkits, sonic-pi-samples, freedesktop).
import os, re, glob, itertools, subprocess, json, xml.etree.ElementTree as ET
D=os.environ.get('DUPES_DIR','target/eval-dupes'); OUT=D+'/files'; os.makedirs(OUT, exist_ok=True)
def ff(args):
    subprocess.run(['ffmpeg','-hide_banner','-loglevel','error','-y']+args, check=True)
def variants(src, name, music):
    """re-encodes (and for music trims + a re-master) of src; returns list of (kind, path)."""
    base=f'{OUT}/{name}'
    out=[]
    specs=[('mp3',['-b:a','128k'],'.mp3'),('ogg',['-c:a','libvorbis','-q:a','3'],'.ogg'),('m4a',['-c:a','aac','-b:a','128k'],'.m4a'),('flac',[],'.flac')]
    for k,a,ext in specs:
        p=base+'.'+k+ext
        if not os.path.exists(p): ff(['-i',src]+a+[p])
        out.append((k,p))
    p=base+'.remaster.flac'
    if not os.path.exists(p):
        ff(['-i',src,'-af','equalizer=f=100:t=q:w=1:g=4,equalizer=f=3000:t=q:w=1:g=-3,acompressor=threshold=-18dB:ratio=3:attack=10:release=150,volume=-2dB',p])
    out.append(('remaster',p))
    if music:
        dur=float(subprocess.check_output(['ffprobe','-v','error','-show_entries','format=duration','-of','csv=p=0',src]))
        for t in [x for x in ['0.5','1.5','3'] if float(x)<dur/3]:
            p=f'{base}.trim{t}.mp3'
            if not os.path.exists(p): ff(['-ss',t,'-i',src,'-b:a','192k',p])
            out.append(('trim'+t,p))
        p=base+'.cutend.ogg'
        if not os.path.exists(p):
            ff(['-t',str(dur-min(2.0,dur*0.2)),'-i',src,'-c:a','libvorbis','-q:a','3',p])
        out.append(('cutend',p))
    return out
def clip(src, name, ss, t):
    p=f'{OUT}/{name}.wav'
    if not os.path.exists(p): ff(['-ss',str(ss),'-t',str(t),'-i',src,p])
    return p
def kit_layers(kitdir):
    x=ET.parse(kitdir+'/drumkit.xml').getroot()
    ns=re.match(r'\{.*\}',x.tag); ns=ns.group(0) if ns else ''
    res=[]
    for ins in x.iter(ns+'instrument'):
        fs=[l.find(ns+'filename').text for l in ins.iter(ns+'layer') if l.find(ns+'filename') is not None]
        fs=[kitdir+'/'+f for f in fs if os.path.exists(kitdir+'/'+f)]
        if len(fs)>=2: res.append(fs)
    return res
sets={'tune':{'true':[],'false':[]},'check':{'true':[],'false':[]}}
# ---- tune: hydrogen-data + asc-music
gm=D+'/hd/usr/share/hydrogen/data/drumkits/GMRockKit'
groups={}
for f in sorted(glob.glob(gm+'/*.wav')):
    b=os.path.basename(f)[:-4]; m=re.match(r'(.*?)-(Softest|Soft|Med|Hard|Hardest|\d)$',b)
    if m: groups.setdefault(m.group(1),[]).append(f)
for ins,fs in groups.items():
    for a,b in itertools.combinations(fs,2): sets['tune']['false'].append(('layers GMRockKit '+ins,a,b))
    for k,p in variants(fs[-1],'gm_'+os.path.basename(fs[-1])[:-4],False): sets['tune']['true'].append(('drum '+k,fs[-1],p))
asc=os.environ.get('SONGREC_TEST_AUDIO','target/test-audio')+'/asc'
clips=[]
for s in ['frontiers','machine_wars','time_to_strike']:
    for ss in [30,90]:
        c=clip(f'{asc}/{s}.mp3',f'asc_{s}_{ss}',ss,30); clips.append((s,c))
        vs=variants(c,f'asc_{s}_{ss}',True)
        for k,p in vs: sets['tune']['true'].append(('music '+k,c,p))
        for (k1,p1),(k2,p2) in itertools.combinations(vs[:3],2): sets['tune']['true'].append(('music '+k1+'/'+k2,p1,p2))
for (s1,a),(s2,b) in itertools.combinations(clips,2):
    sets['tune']['false'].append(('music '+('same piece' if s1==s2 else 'other piece'),a,b))
# ---- check: hydrogen-drumkits, sonic-pi-samples, freedesktop
hk=D+'/hk/usr/share/hydrogen/data/drumkits'
for kit in ['BJA_Pacific','ForzeeStereo','Gimme A Hand 1.0','Millo_MultiLayered2','The Black Pearl 1.0']:
    for fs in kit_layers(hk+'/'+kit):
        for a,b in list(itertools.combinations(fs,2))[:6]: sets['check']['false'].append(('layers '+kit,a,b))
        n=re.sub(r'\W','_',kit+'_'+os.path.basename(fs[-1]))
        if len(sets['check']['true'])<150:
            for k,p in variants(fs[-1],'hk_'+n,False): sets['check']['true'].append(('drum '+k,fs[-1],p))
sp=glob.glob(D+'/sp/**/samples',recursive=True)[0]
for a in sorted(glob.glob(sp+'/*_hard.flac')):
    b=a.replace('_hard','_soft')
    if os.path.exists(b): sets['check']['false'].append(('sonic-pi hard/soft',a,b))
for l in ['loop_amen','loop_safari','loop_tabla','loop_compus','loop_garzul','loop_mika','ambi_choir','guit_em9']:
    f=sp+f'/{l}.flac'
    if os.path.exists(f):
        for k,p in variants(f,'sp_'+l,True): sets['check']['true'].append(('sonic-pi '+k,f,p))
fd=os.environ.get('SONGREC_TEST_AUDIO','target/test-audio')+'/freedesktop'
for s in ['alarm-clock-elapsed','phone-incoming-call','complete','bell','service-login','dialog-warning','message-new-instant','window-attention']:
    f=f'{fd}/{s}.oga'
    for k,p in variants(f,'fd_'+s,False): sets['check']['true'].append(('freedesktop '+k,f,p))
for a,b in itertools.combinations([f'{fd}/{s}.oga' for s in ['service-login','service-logout','phone-incoming-call','phone-outgoing-calling','audio-volume-change','message','dialog-information','dialog-warning']],2):
    sets['check']['false'].append(('freedesktop other sound',a,b))
json.dump(sets,open(D+'/pairs.json','w'),indent=0)
for s in sets:
    for t in sets[s]: print(s,t,len(sets[s][t]))
