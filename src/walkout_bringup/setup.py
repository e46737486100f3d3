from glob import glob

from setuptools import find_packages, setup

package_name = 'walkout_bringup'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        # launch/, params/ and rviz/ live at the top of the repository
        ('share/' + package_name + '/launch', glob('../../launch/*.py')),
        ('share/' + package_name + '/params', glob('../../params/*.yaml')),
        ('share/' + package_name + '/params/layouts', glob('../../params/layouts/*.yaml')),
        ('share/' + package_name + '/params/scenarios', glob('../../params/scenarios/*.yaml')),
        ('share/' + package_name + '/rviz', glob('../../rviz/*.rviz')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='walkout maintainers',
    maintainer_email='maintainers@walkout.example.org',
    description='Bring-up, runner, evaluation and command line of the walkout store',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={'console_scripts': ['walkout = walkout_bringup.cli:main']},
)
