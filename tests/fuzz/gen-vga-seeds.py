import struct, sys, os
REG,PORT,VBE,VBE_READ,WINDOW,LFB,MMIO,PCI,MODE,RENDER,DUMP,SAVE_LOAD,RESET = range(13)
SR,GR,CR,AR,DAC,MISC = range(6)
def reg(k,i,v): return bytes([REG,k,i,v])
def port(read,word,sel,v): return bytes([PORT,(1 if read else 0)|(2 if word else 0),sel])+struct.pack('<H',v)
def vbe(i,v): return bytes([VBE,i])+struct.pack('<H',v)
def vbe_read(i): return bytes([VBE_READ,i])
def win(mode,off,val,count=0): return bytes([WINDOW,mode])+struct.pack('<IQH',off,val,count)
def lfb(mode,off,val,count=0): return bytes([LFB,mode])+struct.pack('<IQH',off,val,count)
def mmio(mode,area,off,val): return bytes([MMIO,mode,area,off])+struct.pack('<I',val)
def pci(r,sc,v): return bytes([PCI,r,sc])+struct.pack('<I',v)
def mode(w,sub): return bytes([MODE,w,sub])
def render(full): return bytes([RENDER,full])
S1,S2,S4,S8=0,1,2,3
seeds={}
# text mode 3, font through plane 2, characters at B8000, cursor
t=mode(0,1)
for i,ch in enumerate(b'Hello, VGA!'):
    t+=win(S2,0x18000+2*i,ch|0x1f00)
t+=win(S2,0x18000+160,0x4e41,79)    # a row of 'A' yellow on red (REP STOS)
t+=reg(CR,0x0e,0)+reg(CR,0x0f,5)+reg(CR,0x0a,0x0d)+reg(CR,0x0b,0x0e)
t+=render(1)+win(S1|4,0x18000,0)+render(0)+bytes([DUMP])
seeds['text-mode3']=t
# text: 40 columns, scan doubling, 9-dot line graphics, blink, second font map
t=mode(0,3)+reg(CR,0x01,39)+reg(CR,0x09,0x8f)+reg(AR,0x10,0x0c)+reg(SR,3,0x24)
t+=win(S8,0x18000,0xc0dfc4b3c9cdbaf0,400)+reg(CR,0x0c,0x01)+reg(CR,0x0d,0x10)+render(1)
seeds['text-variants']=t
# mode 13h: DAC palette, chain-4 pixels, REP STOS fill, read back
t=mode(1,0)
for i in range(8): t+=reg(DAC,i,i*8)
t+=bytes([REG,DAC,0x80,0x3f])
t+=win(S4,0,0x03020100,511)+win(S4,2048,0x07060504,511)+win(S1,320*100+160,0x0f)+win(S1|4,320*100+160,0)
t+=render(1)+win(S2,320*199,0x0404,100)+render(0)+bytes([SAVE_LOAD])+render(0)
seeds['mode13h']=t
# mode 12h: planar write modes 0/2/3, set/reset, bit mask, latches, read mode 1
t=mode(2,0)
t+=reg(SR,2,0x0f)+reg(GR,0,0x0c)+reg(GR,1,0x0f)+win(S1,0,0xff)   # set/reset colour 12
t+=reg(GR,1,0)+reg(GR,8,0xf0)+win(S2,80,0xaa55,40)                # bit mask
t+=reg(GR,5,0x02)+reg(GR,8,0xff)+win(S1,160,0x09,80)               # write mode 2
t+=reg(GR,3,0x18)+win(S1|4,160,0)+win(S1,160,0x0a)                 # XOR with latches
t+=reg(GR,5,0x03)+reg(GR,3,0x02)+win(S1,240,0x81)                  # write mode 3, rotate
t+=reg(GR,5,0x01)+win(S1|4,0,0)+win(S1,320,0,20)                   # write mode 1: latch copy
t+=reg(GR,5,0x08)+reg(GR,2,0x0c)+reg(GR,7,0x0f)+win(S1|4,0,0)      # read mode 1
t+=reg(SR,2,0x01)+win(S1|0x10,400,0x0,64)+win(S1|0x10|4,400,0,64)  # REP MOVS both ways
t+=reg(SR,1,0x09)+render(1)+reg(SR,1,0x01)+render(1)
seeds['mode12h-planar']=t
# VBE 1024x768x32 with LFB writes, virtual width, panning
t=vbe(1,1024)+vbe(2,768)+vbe(3,32)+vbe(4,0x41)
t+=lfb(S8,0,0x00ff000000ff0000,511)+lfb(S8,4096,0x00ff000000ff0000,511)+lfb(S4,1024*4*767+4*1020,0x00ffffff,3)
t+=lfb(S4|4,0,0)+render(1)+lfb(S4,4096*100,0x123456,512)+render(0)
t+=vbe(6,2048)+vbe(8,100)+vbe(9,50)+render(0)+vbe_read(7)+vbe_read(10)
t+=bytes([SAVE_LOAD])+lfb(S8|0x40,0xfffff8,1)+lfb(S8|0x40,0x1000000,1)+render(0)
seeds['vbe-1024x768x32']=t
# VBE banked (no LFB): 800x600x8, bank switching through the 64 KiB window, buffered writes
t=vbe(1,800)+vbe(2,600)+vbe(3,8)+vbe(4,0x01)
for b in range(8):
    t+=vbe(5,b)+win(S4,0x100*b,0x01010101*b,64)+win(S1|8,0xffff,b)
t+=vbe(5,255)+vbe(5,7)+win(S1|4,0,0)+render(1)
t+=reg(DAC,7,0x3f)+vbe(4,0x21)+vbe(4,0x00)+vbe(4,0x21)+render(1)
seeds['vbe-banks']=t
# all VBE modes of the MODE table, rendered, plus the 24/15/16 bpp conversions
t=b''
for sub in range(8):
    t+=mode(3,sub)+lfb(S8,sub*4096,0x7bde3c1f8421ffff,256)+render(1)
seeds['vbe-modes']=t
# the MMIO BAR: ports at 0x400, VBE at 0x500, extension at 0x600, EDID; BAR moves
t=mmio(S2,2,1*2,640)+mmio(S2,2,2*2,480)+mmio(S2,2,3*2,16)+mmio(S2,2,4*2,0x41)
t+=mmio(S4|4,3,0,0)+mmio(S4|4,3,4,0)+mmio(S4,3,4,0x1e1e1e1e)+mmio(S4,3,4,0xbebebebe)+mmio(S4|4,0,0,0)
t+=mmio(S1,1,0x08,0x10)+mmio(S1,1,0x09,0x3f)+mmio(S1,1,0x09,0)+mmio(S1,1,0x09,0)
t+=mmio(S1,2,1*2+1,0x04)+mmio(S4,2,0x14,0)+render(1)
t+=pci(0x10,2,0xe8000000)+pci(0x18,2,0xe9000000)+lfb(S4,0,0xffffffff,100)+mmio(S2|4,2,0x14,0)
t+=pci(0x04,1,0)+lfb(S4,0,0,1)+pci(0x04,1,3)+render(0)+bytes([RESET])+render(0)
seeds['mmio-bar']=t
# raw ports: word index/data, the 0x1CF split, monochrome decoding, DAC reads
t=port(0,1,0x14,0x0f02)+port(0,1,0x1e,0x0506)+port(0,0,48,4)+port(0,0,49,0x41)+port(0,0,50,0)
t+=port(0,1,48,1)+port(0,1,49,320)+port(1,1,49,0)+reg(MISC,0,0x66)+port(0,0,4,0x01)+port(1,0,5,0)
t+=port(1,0,0x2a,0)+port(0,0,0x17,3)+port(1,0,0x19,0)+port(1,0,0x19,0)+port(1,0,0x19,0)+render(1)
seeds['ports']=t
# hostile CRTC: the largest text and graphics geometries, start addresses near 0xFFFF
t=mode(0,0)+reg(CR,0x11,0)+reg(CR,0x01,0xff)+reg(CR,0x12,0xff)+reg(CR,0x07,0x42)+reg(CR,0x09,0x00)
t+=reg(CR,0x13,0xff)+reg(CR,0x0c,0xff)+reg(CR,0x0d,0xff)+render(1)
t+=mode(2,0)+reg(CR,0x11,0)+reg(CR,0x01,0xff)+reg(CR,0x12,0xff)+reg(CR,0x07,0x42)+reg(SR,1,0x09)
t+=reg(CR,0x13,0xff)+reg(CR,0x0c,0xff)+reg(CR,0x0d,0xf0)+render(1)+reg(GR,5,0x40)+render(1)
seeds['crtc-extremes']=t
out=sys.argv[1]
for n,d in seeds.items():
    open(os.path.join(out,n),'wb').write(d)
    print(n,len(d))
